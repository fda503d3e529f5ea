"""Locust load scenarios, one module per API (see run.py)."""
