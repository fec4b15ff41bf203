"""Summaries of repeated measurements: median and spread."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary(values: Sequence[float | None], digits: int = 3) -> dict[str, Any]:
    """Median, min, max and count of the values that exist; None where there are none."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": round(statistics.median(xs), digits), "min": round(min(xs), digits),
            "max": round(max(xs), digits), "n": len(xs)}


def distribution(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """Median, 10th, 90th and 99th percentiles, max and count of one sample."""
    if not values:
        return {"median": None, "p10": None, "p90": None, "p99": None, "max": None, "n": 0}
    return {"median": round(percentile(values, 50), digits),
            "p10": round(percentile(values, 10), digits),
            "p90": round(percentile(values, 90), digits),
            "p99": round(percentile(values, 99), digits),
            "max": round(max(values), digits), "n": len(values)}


def ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    """a / b, or None when either is missing or b is zero."""
    if a is None or b is None or b == 0:
        return None
    return round(a / b, digits)
