"""PyTorch models for the WikiText-103 family."""
