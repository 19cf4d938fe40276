"""Daemons running in the current network namespace, and which process is the daemon.

A daemon in another network namespace (a container, a test lab) binds other addresses and
is none of this run's business, so a process counts only when ``/proc/PID/ns/net`` is the
same namespace as ours (device and inode of the nsfs file). Zombies have no namespace
link left and drop out on their own. Reading another user's ``ns/net`` needs
CAP_SYS_PTRACE; a process whose namespace cannot be read is kept, with the reason, since
it may well be ours: a check that cannot tell never counts as one that found nothing.

A daemon is its main process, not any process with its name: a forked child (xinetd's
per-connection servers, classic ntpd's resolver, chronyd's privileged helper) holds copies
of the daemon's sockets, and one that hangs on holds them after the daemon itself has
restarted without them. :func:`identify` picks the process a pidfile names (the daemon's
own ``-p``/``-pidfile``, else the distro's path); else the only one whose parent is not of
the same program; else it cannot tell, and says why.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

PROC = Path("/proc")
_UNREADABLE = (PermissionError,)

PidReader = Callable[[str], Optional[int]]  # a pidfile's path to the PID it holds


@dataclass(frozen=True)
class Process:
    pid: int
    comm: str
    argv: Tuple[str, ...]
    ppid: int = 0
    unreadable: Optional[str] = None  # why its network namespace could not be read


@dataclass(frozen=True)
class Identified:
    """The daemon's main process, or why it cannot be told (never both None)."""

    main: Optional[Process] = None
    problem: Optional[str] = None
    how: str = ""  # "pidfile PATH" or "the only process whose parent is not COMM"


def _netns(path: Path) -> Tuple[Optional[Tuple[int, int]], Optional[str]]:
    """(device, inode) of a namespace link; None and why when it cannot be read."""
    try:
        found = os.stat(path)
    except _UNREADABLE as exc:
        return None, f"cannot read {path}: {exc.strerror}"
    except OSError:
        return None, None  # gone, or a zombie
    return (found.st_dev, found.st_ino), None


def _ppid(stat: str) -> int:
    """The fourth field of /proc/PID/stat; the name in parentheses may hold anything."""
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0


def find(comms: Collection[str], proc: Path = PROC) -> Dict[str, List[Process]]:
    """The processes whose ``comm`` is one of ``comms``, in our network namespace (or whose
    namespace cannot be read), by comm."""
    ours, why = _netns(proc / "self" / "ns" / "net")
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
            if comm not in comms:
                continue
            ppid = _ppid((base / "stat").read_text(encoding="utf-8", errors="replace"))
            raw = (base / "cmdline").read_bytes()
        except OSError:
            continue
        netns, unreadable = _netns(base / "ns" / "net")
        if unreadable is None and (netns is None or netns != ours):
            continue
        argv = tuple(arg.decode("utf-8", "surrogateescape") for arg in raw.split(b"\0")[:-1])
        found.setdefault(comm, []).append(
            Process(int(entry), comm, argv, ppid, unreadable or why))
    for processes in found.values():
        processes.sort(key=lambda p: p.pid)
    return found


def read_pidfile(path: str) -> Optional[int]:
    """The PID a pidfile holds; None when it is absent, unreadable or not a number."""
    try:
        with open(path, "rb") as handle:
            text = handle.read(64).decode("ascii", "replace").split()
    except OSError:
        return None
    return int(text[0]) if text and text[0].isdigit() else None


def identify(processes: Sequence[Process], pidfiles: Sequence[str],
             read_pid: PidReader = read_pidfile) -> Identified:
    """Which of one program's processes is the daemon (see the module's docstring)."""
    if not processes:
        return Identified(problem="not running")
    by_pid = {p.pid: p for p in processes}
    for path in pidfiles:
        pid = read_pid(path)
        if pid in by_pid:
            return _checked(by_pid[pid], f"pidfile {path}")
    comm = processes[0].comm
    roots = [p for p in processes if p.ppid not in by_pid]
    if len(roots) == 1:
        return _checked(roots[0], f"the only {comm} whose parent is not {comm}")
    pids = ", ".join(str(p.pid) for p in roots)
    named = ", ".join(pidfiles) or "none"
    return Identified(problem=f"{len(roots)} {comm} processes ({pids}) and no pidfile names "
                              f"one of them (tried: {named}): cannot tell which is the daemon")


def _checked(process: Process, how: str) -> Identified:
    if process.unreadable:
        return Identified(problem=f"{process.comm} {process.pid}: {process.unreadable}",
                          how=how)
    return Identified(process, how=how)
