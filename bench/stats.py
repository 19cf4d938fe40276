"""Small statistics for the benchmark: medians and ratios of medians, never means."""

from __future__ import annotations

import statistics
from typing import Any, Dict, List, Optional, Sequence, Tuple, TypeVar

T = TypeVar("T")


def summary(seconds: Sequence[float]) -> Dict[str, Any]:
    """Median, min and max in milliseconds, with the raw samples."""
    ms = [s * 1000.0 for s in seconds]
    if not ms:
        return {"runs": 0, "median_ms": None, "min_ms": None, "max_ms": None, "samples_ms": []}
    return {"runs": len(ms), "median_ms": round(statistics.median(ms), 3),
            "min_ms": round(min(ms), 3), "max_ms": round(max(ms), 3),
            "samples_ms": [round(v, 3) for v in ms]}


def ratio(numerator: Optional[float], denominator: Optional[float]) -> Optional[float]:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)


def median_or_none(values: Sequence[float]) -> Optional[float]:
    return round(statistics.median(values), 3) if values else None


def rotated(items: Sequence[T], turn: int) -> List[T]:
    """``items`` starting at position ``turn``: each method takes each slot in turn, so
    none of them always runs right after the same neighbour."""
    if not items:
        return []
    start = turn % len(items)
    return [*items[start:], *items[:start]]


def linear_fit(points: Sequence[Tuple[float, float]]) -> Optional[Tuple[float, float]]:
    """Intercept and slope of the least-squares line through ``points``; None with fewer
    than two distinct x."""
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if not spread:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return mean_y - slope * mean_x, slope
