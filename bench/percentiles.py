"""Percentiles of latency samples, as every bench reports them."""
from __future__ import annotations


def percentile(values: list[float], p: float) -> float:
    """The sample at rank ``p`` % (nearest rank, 0 ≤ p ≤ 100); NaN for no samples."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
