"""PyTorch models for the digits family."""
