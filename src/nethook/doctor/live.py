"""The live state doctor looks at, behind one small port, and the real implementation.

The port only reads: a fix that changes the kernel goes through the planner and the
applier (doctor.fixes), like every other change nethook makes.

Everything live comes from the current network namespace: the rtnetlink state through
nethook's adapter (the only netlink reader), the per-namespace sysctls under
``/proc/sys/net``, MAC addresses from ``/sys/class/net`` (``ip netns exec`` mounts the
namespace's own sysfs), and the daemons of this namespace with their sockets through
:mod:`nethook.daemons.live`, the port the services check and ``nethook status`` read
too. Processes are looked at only when doctor inspects the running system (``--root /``):
under another root they belong to another machine.

Files under ``--root`` are not live state; checks read them themselves. Tests give the
file checks a fake of this port (tests/unit/test_doctor_live.py).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Dict, FrozenSet, List, Mapping, Optional, Protocol, Set

from nethook.daemons.live import DaemonsLive, ProcLive
from nethook.model.objects import Observed

PROC = Path("/proc")
SYS_NET = Path("/sys/class/net")
NO_MAC = "00:00:00:00:00:00"


class Live(Protocol):
    def observed(self) -> Observed:
        """Every link, the addresses of every link, the unicast routes of every table and
        every rule. Raises ObserveError (nothing partial) when the kernel cannot be read."""
        ...

    def mac_addresses(self) -> Mapping[str, str]:
        """Link name -> MAC address (lower case) of every link that has one."""
        ...

    def promote_secondaries(self, ifname: str) -> Optional[int]:
        """net.ipv4.conf.IFNAME.promote_secondaries in this namespace; None: no such link."""
        ...

    def daemons(self) -> Optional[DaemonsLive]:
        """This namespace's daemons and their sockets; None when doctor does not look
        (another root)."""
        ...

    def processes(self) -> Optional[FrozenSet[str]]:
        """The names of the running programs; None when doctor does not look (another root)."""
        ...


class SystemLive:
    """The running system: the kernel of the current network namespace, /proc and /sys."""

    def __init__(self, *, look_at_processes: bool, proc: Path = PROC,
                 sys_net: Path = SYS_NET) -> None:
        self._look_at_processes = look_at_processes
        self._proc = proc
        self._sys_net = sys_net

    def observed(self) -> Observed:
        return self._observed

    @cached_property
    def _observed(self) -> Observed:
        from nethook.adapters.pyroute2_netlink import open_netlink

        with open_netlink() as netlink:
            links = netlink.observe((), []).links
            return netlink.observe(links, None)

    def mac_addresses(self) -> Mapping[str, str]:
        found: Dict[str, str] = {}
        for name in sorted(self.observed().links):
            try:
                mac = (self._sys_net / name / "address").read_text(encoding="ascii").strip()
            except (FileNotFoundError, NotADirectoryError):
                continue  # gone since, or a sysfs that is not this namespace's
            if mac and mac != NO_MAC:
                found[name] = mac.lower()
        return found

    def promote_secondaries(self, ifname: str) -> Optional[int]:
        path = self._proc / "sys/net/ipv4/conf" / ifname / "promote_secondaries"
        try:
            return int(path.read_text(encoding="ascii").strip())
        except FileNotFoundError:
            return None

    def daemons(self) -> Optional[DaemonsLive]:
        return ProcLive(self._proc) if self._look_at_processes else None

    def processes(self) -> Optional[FrozenSet[str]]:
        if not self._look_at_processes:
            return None
        names: Set[str] = set()
        for entry in self._proc.iterdir():
            if entry.name.isdigit():
                names.update(_program_names(entry))
        return frozenset(names)


def _program_names(entry: Path) -> List[str]:
    """``comm`` and the base names of the first two words of the command line (an
    interpreter's script: ``python3 /usr/bin/networkd-dispatcher``). A process that
    ended meanwhile has none."""
    try:
        comm = (entry / "comm").read_text(encoding="utf-8", errors="replace").strip()
        argv = (entry / "cmdline").read_bytes().split(b"\0")[:2]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [comm, *(os.path.basename(w.decode(errors="replace")) for w in argv if w)]
