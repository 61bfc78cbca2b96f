"""Percentiles of a sample, the way the bench reports latencies."""

from __future__ import annotations

import math


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between the closest ranks."""
    if not values:
        raise ValueError("percentile of an empty sample: measure at least one value")
    if not 0 <= q <= 100:
        raise ValueError(f"q is {q}: pass a percentile between 0 and 100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(values_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of latencies in milliseconds, rounded to 0.1 ms."""
    return {
        "p50": round(percentile(values_ms, 50), 1),
        "p95": round(percentile(values_ms, 95), 1),
        "p99": round(percentile(values_ms, 99), 1),
        "max": round(max(values_ms), 1),
    }
