"""Percentiles of measured latencies."""

import math


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank q-th percentile (0 < q <= 100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    return {f"p{q}_ms": round(percentile(seconds, q) * 1000, 1) for q in (50, 90, 99)} | {
        "max_ms": round(max(seconds, default=math.nan) * 1000, 1)
    }
