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

from nethook.base.safefiles import TrustedDir, open_path

RESET_AFTER = 1 << 16
EVENTS = "events"
COUNT, SERVED = "count", "served"  # the served record has its own directory: an
# interface may well be called "eth0.served"


def _folder(run_dir: Path, name: str) -> TrustedDir:
    return open_path(run_dir, [EVENTS, name])


def arrive(run_dir: Path, ifname: str) -> int:
    """Count this event in; returns its number."""
    with _folder(run_dir, COUNT) as counts:
        return counts.append(ifname, b".")


def already_served(run_dir: Path, ifname: str, number: int) -> bool:
    """Call with the run lock held."""
    with _folder(run_dir, SERVED) as served:
        text = served.read(ifname, 32)
    try:
        return number <= int(text or 0)
    except ValueError:
        return False


def start_serving(run_dir: Path, ifname: str) -> None:
    """Call with the run lock held, before observing: every event counted so far is covered."""
    with _folder(run_dir, COUNT) as counts:
        fd = counts.open_file(ifname, os.O_RDWR | os.O_CREAT)
        try:
            count = os.fstat(fd).st_size
            if count > RESET_AFTER:
                # Start over. An event counted just before this waits with a number above
                # the new record and runs once more: harmless, and the counter stays small.
                os.ftruncate(fd, 0)
                count = 0
        finally:
            os.close(fd)
    with _folder(run_dir, SERVED) as served:
        served.write(ifname, str(count).encode(), durable=False)
