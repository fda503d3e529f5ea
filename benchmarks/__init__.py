"""Benchmarks of the mock against a static ceiling (see run.py)."""
