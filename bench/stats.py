"""Small statistics for the benchmark: medians and ratios of medians, never means."""

from __future__ import annotations

import statistics
from typing import Any, Dict, List, Optional, Sequence, TypeVar

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
