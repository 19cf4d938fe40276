"""The live state the daemon readers look at, behind one small port: the socket table of
this network namespace, its daemons' processes, their sockets and their pidfiles.

The services check, ``nethook status`` and ``nethook doctor`` all read through it, so they
see the same daemons holding the same sockets; tests give them a fake of it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Protocol

from nethook.daemons import listeners, processes
from nethook.daemons.listeners import Listener
from nethook.daemons.processes import Process


class DaemonsLive(Protocol):
    def table(self) -> Sequence[Listener]:
        """Every listener of this network namespace; ObserveError when unreadable."""
        ...

    def running(self, comms: Collection[str]) -> Dict[str, List[Process]]:
        """The processes of these programs in this network namespace, by comm."""
        ...

    def sockets_of(self, pid: int) -> FrozenSet[int]:
        """The socket inodes process ``pid`` holds; listeners.CannotRead when unreadable."""
        ...

    def read_pid(self, path: str) -> Optional[int]:
        """The PID a pidfile holds; None when there is none."""
        ...


class ProcLive:
    """The running system, through /proc (the current network namespace's)."""

    def __init__(self, proc: Path = processes.PROC) -> None:
        self.proc = proc

    def table(self) -> Sequence[Listener]:
        return listeners.read(self.proc)

    def running(self, comms: Collection[str]) -> Dict[str, List[Process]]:
        return processes.find(comms, self.proc)

    def sockets_of(self, pid: int) -> FrozenSet[int]:
        return listeners.socket_inodes(pid, self.proc)

    def read_pid(self, path: str) -> Optional[int]:
        return processes.read_pidfile(path)
