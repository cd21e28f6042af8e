"""PyTorch side of the SmolLM2 compression family: the dense language model's builder and its held-out data."""
