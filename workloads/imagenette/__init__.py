"""Imagenette (Howard, 2019): 13,394 ImageNet images of 10 easily told apart classes, through Hugging Face
``datasets``."""
