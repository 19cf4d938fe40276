"""Coalescing a burst of events for one interface into few reconciles.

Each arriving event bumps a per-interface counter (one byte appended with O_APPEND: the
file size is the count, and appends are atomic). A reconcile that starts after an event
arrived observes the kernel after it, so it covers that event. A run records, under the
run lock, the counter it saw before observing; a waiting event whose number is not
above that record has been served and returns at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from nethook.base.files import private_dir

RESET_AFTER = 1 << 16


def _counter(run_dir: Path, ifname: str) -> Path:
    return private_dir(run_dir / "events" / "count") / ifname


def arrive(run_dir: Path, ifname: str) -> int:
    """Count this event in; returns its number."""
    fd = os.open(_counter(run_dir, ifname), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, b".")
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def already_served(run_dir: Path, ifname: str, number: int) -> bool:
    """Call with the run lock held."""
    try:
        served = int(_served(run_dir, ifname).read_text() or 0)
    except (FileNotFoundError, ValueError):
        return False
    return number <= served


def start_serving(run_dir: Path, ifname: str) -> None:
    """Call with the run lock held, before observing: every event counted so far is covered."""
    path = _counter(run_dir, ifname)
    try:
        count = path.stat().st_size
    except FileNotFoundError:
        count = 0
    if count > RESET_AFTER:
        # Start over. An event counted just before this waits with a number above the new
        # record and runs once more: harmless, and the counter stays small.
        os.truncate(path, 0)
        count = 0
    _served(run_dir, ifname).write_text(str(count))


def _served(run_dir: Path, ifname: str) -> Path:
    # Its own directory: an interface may well be called "eth0.served".
    return private_dir(run_dir / "events" / "served") / ifname
