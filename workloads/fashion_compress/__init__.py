"""Fashion-MNIST compression (compression track): the CNN that Podium trains once on all ten Fashion-MNIST classes,
compressed to a quality floor and a size or latency target."""
