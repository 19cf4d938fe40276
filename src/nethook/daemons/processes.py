"""Daemons running in the current network namespace, found in /proc by their ``comm``.

A daemon in another network namespace (a container, a test lab) binds other addresses and
is none of this run's business, so a process counts only when ``/proc/PID/ns/net`` is the
same namespace as ours (device and inode of the nsfs file). Zombies have no namespace
link left and drop out on their own.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

PROC = Path("/proc")


@dataclass(frozen=True)
class Process:
    pid: int
    comm: str
    argv: Tuple[str, ...]


def _netns(path: Path) -> Optional[Tuple[int, int]]:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


def find(comms: Collection[str], proc: Path = PROC) -> Dict[str, List[Process]]:
    """The processes whose ``comm`` is one of ``comms``, in our network namespace, by comm."""
    ours = _netns(proc / "self" / "ns" / "net")
    found: Dict[str, List[Process]] = {}
    try:
        entries = os.listdir(proc)
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        base = proc / entry
        try:
            comm = (base / "comm").read_text(encoding="utf-8", errors="replace").rstrip("\n")
        except OSError:
            continue
        if comm not in comms or _netns(base / "ns" / "net") != ours:
            continue
        try:
            raw = (base / "cmdline").read_bytes()
        except OSError:
            continue
        argv = tuple(arg.decode("utf-8", "surrogateescape") for arg in raw.split(b"\0")[:-1])
        found.setdefault(comm, []).append(Process(int(entry), comm, argv))
    for processes in found.values():
        processes.sort(key=lambda p: p.pid)
    return found
