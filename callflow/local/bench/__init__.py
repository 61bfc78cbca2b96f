"""Benchmarks of the local stack: `callflow bench peak` (the morning peak)."""
