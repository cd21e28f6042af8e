"""Tuning: search spaces, quasi-random samplers, seeds and the tuning protocols."""
