"""PyTorch side of the Fashion-MNIST compression family: the dense CNN's builder and its held-out data."""
