"""An append-only JSON-lines journal of runs, bounded by rotating one generation."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Optional

from nethook.base.safefiles import TrustedDir

JOURNAL_NAME = "journal.jsonl"
ROTATED_NAME = JOURNAL_NAME + ".1"
MAX_BYTES = 1 << 20  # keep at most about 2 MiB: the current file plus one rotated generation
READ_LIMIT = 2 * MAX_BYTES  # one generation, and one line more than any append writes


def journal_path(state_dir: Path) -> Path:
    return state_dir / JOURNAL_NAME


def append(state_dir: Path, entry: Dict[str, Any], max_bytes: int = MAX_BYTES) -> None:
    """Add one line. The caller holds the run lock, so appends never interleave."""
    line = (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode()
    with TrustedDir.open(state_dir) as state:
        fd = state.open_file(JOURNAL_NAME, os.O_RDONLY | os.O_CREAT)
        try:
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size + len(line) > max_bytes:
            state.move(JOURNAL_NAME, state, ROTATED_NAME)
        state.append(JOURNAL_NAME, line)


def entries(state_dir: Path) -> Iterator[Dict[str, Any]]:
    """Every readable entry, oldest first; a torn or foreign line is passed over."""
    try:
        state = TrustedDir.open(state_dir, create=False)
    except FileNotFoundError:
        return
    with state:
        texts = [state.read(name, READ_LIMIT) for name in (ROTATED_NAME, JOURNAL_NAME)]
    for text in texts:
        for line in (text or b"").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry


def last_entry(state_dir: Path, ifname: Optional[str] = None) -> Optional[Dict[str, Any]]:
    found: Optional[Dict[str, Any]] = None
    for entry in entries(state_dir):
        if ifname is None or (entry.get("event") or {}).get("ifname") == ifname:
            found = entry
    return found


def time_of(value: Any) -> Optional[datetime]:
    """An entry's ``time`` (ISO 8601 with its offset); None when absent or naive."""
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None
