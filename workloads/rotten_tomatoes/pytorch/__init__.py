"""PyTorch models for the Rotten Tomatoes family."""
