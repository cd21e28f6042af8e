"""scikit-learn's bundled handwritten digits (1,797 images of 8x8 pixels, 10 classes)."""
