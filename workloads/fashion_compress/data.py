"""This family reads Fashion-MNIST as :mod:`workloads.fashion_mnist.data` loads it (a sealed trial's container mounts
the folder ``local_dir`` names)."""

from workloads.fashion_mnist.data import local_dir

__all__ = ["local_dir"]
