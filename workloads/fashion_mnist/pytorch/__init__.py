"""PyTorch models for the Fashion-MNIST family."""
