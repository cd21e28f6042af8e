"""Fashion-MNIST transfer (PEFT track): a CNN that Podium pretrains on five Fashion-MNIST classes, adapted to
the other five."""
