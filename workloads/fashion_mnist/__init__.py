"""Fashion-MNIST (Xiao et al., 2017): 70,000 28x28 grey-scale images of clothing in 10 classes."""
