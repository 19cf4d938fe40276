"""Counters that only grow: what nethook restored, by interface and event source.

The journal is bounded and rotates, so a total cannot be counted from it; these live in
``STATE_DIR/counters.json``, updated under the run lock by every run that changed the
kernel, and read by ``nethook metrics`` (``nethook_restores_total``). A counter that
cannot be read starts over from zero, as Prometheus expects of a restarted counter.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Dict, Tuple

from nethook.base.safefiles import TrustedDir

log = logging.getLogger(__name__)
COUNTERS_NAME = "counters.json"
COUNTERS_VERSION = 1
READ_LIMIT = 1 << 20

Key = Tuple[str, str]  # (interface, source)


def load(state_dir: Path) -> Dict[Key, int]:
    try:
        state = TrustedDir.open(state_dir, create=False)
    except FileNotFoundError:
        return {}
    with state:
        raw = state.read(COUNTERS_NAME, READ_LIMIT)
    return _parse(raw) if raw is not None else {}


def add(state_dir: Path, restored: Mapping[Key, int]) -> None:
    """Add ``restored`` to the totals (call with the run lock held)."""
    if not any(restored.values()):
        return
    with TrustedDir.open(state_dir) as state:
        raw = state.read(COUNTERS_NAME, READ_LIMIT)
        totals = _parse(raw) if raw is not None else {}
        for key, count in restored.items():
            totals[key] = totals.get(key, 0) + count
        rows = [{"interface": i, "source": s, "restored": n}
                for (i, s), n in sorted(totals.items())]
        data = {"version": COUNTERS_VERSION, "restores": rows}
        state.write(COUNTERS_NAME, json.dumps(data).encode(), durable=False)


def _parse(raw: bytes) -> Dict[Key, int]:
    try:
        data = json.loads(raw)
        rows = data["restores"] if data.get("version") == COUNTERS_VERSION else []
        return {(str(r["interface"]), str(r["source"])): int(r["restored"]) for r in rows}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("%s: unreadable (%s); the restore counters start over", COUNTERS_NAME, exc)
        return {}


