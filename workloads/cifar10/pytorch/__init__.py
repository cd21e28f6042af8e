"""PyTorch models for the CIFAR-10 family."""
