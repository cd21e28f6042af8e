"""PyTorch side of the Fashion-MNIST transfer family: the pretrained CNN, its cache, and the builder."""
