"""An append-only JSON-lines journal of runs, bounded by rotating one generation."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Dict, List, Optional

from nethook.base.files import private_dir

JOURNAL_NAME = "journal.jsonl"
MAX_BYTES = 1 << 20  # keep at most about 2 MiB: the current file plus one rotated generation


def journal_path(state_dir: Path) -> Path:
    return state_dir / JOURNAL_NAME


def append(state_dir: Path, entry: Dict[str, Any], max_bytes: int = MAX_BYTES) -> None:
    """Add one line. The caller holds the run lock, so appends never interleave."""
    path = journal_path(private_dir(state_dir))
    line = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
    try:
        if path.stat().st_size + len(line) > max_bytes:
            os.replace(path, path.with_name(JOURNAL_NAME + ".1"))
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(line)


def entries(state_dir: Path) -> Iterator[Dict[str, Any]]:
    """Every readable entry, oldest first; a torn or foreign line is passed over."""
    path = journal_path(state_dir)
    for candidate in (path.with_name(JOURNAL_NAME + ".1"), path):
        try:
            with candidate.open(encoding="utf-8") as handle:
                lines: List[str] = handle.readlines()
        except FileNotFoundError:
            continue
        for line in lines:
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
