"""Benchmarks; run as ``python -m bench`` (never collected by pytest)."""
