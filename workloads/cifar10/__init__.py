"""CIFAR-10 (Krizhevsky, 2009): 60,000 32x32 colour images in 10 classes, through Hugging Face ``datasets``."""
