"""PyTorch models for the Imagenette family."""
