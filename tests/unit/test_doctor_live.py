"""The live port of `nethook doctor`: a fake for the file checks, and the real one's readers.

`FakeLive` answers like `doctor.live.SystemLive` from values a test gives it; its daemons
(`FakeDaemons`) answer like `nethook.daemons.live.ProcLive`. `FakeKernel` is the Netlink port
`--fix` changes the kernel through, over the same state (it deletes routes the way the
kernel does; tests/integration/test_doctor_kernel.py does it for real). The builders below
write kernel objects the way the adapter observes them (a lease is dynamic; the kernel's
subnet route names the primary as src).
"""

from __future__ import annotations

import errno
import ipaddress
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

from nethook.daemons.listeners import Listener
from nethook.daemons.live import ProcLive
from nethook.daemons.processes import Process
from nethook.doctor.live import SystemLive
from nethook.model.objects import MAIN_TABLE, Address, IPAddress, Observed, Route, Rule
from nethook.model.ops import Op, RouteOp, Verb
from nethook.model.ports import Outcome


@dataclass
class FakeDaemons:
    """Daemons and their sockets: each daemon is one process holding its listeners."""

    processes: List[Process] = field(default_factory=list)
    sockets: Dict[int, List[Listener]] = field(default_factory=dict)  # by pid
    others: List[Listener] = field(default_factory=list)  # sockets of other programs

    def add(self, comm: str, pid: int, argv: Sequence[str],
            listening: Iterable[Tuple[str, str, int]]) -> FakeDaemons:
        """A daemon with ``(proto, address, port)`` sockets."""
        self.processes.append(Process(pid, comm, tuple(argv), 1))
        self.sockets[pid] = [Listener(proto, ip(a), port, inode=pid * 100 + n)
                             for n, (proto, a, port) in enumerate(listening)]
        return self

    def table(self) -> Sequence[Listener]:
        return [*self.others, *(s for held in self.sockets.values() for s in held)]

    def running(self, comms: Collection[str]) -> Dict[str, List[Process]]:
        found: Dict[str, List[Process]] = {}
        for process in self.processes:
            if process.comm in comms:
                found.setdefault(process.comm, []).append(process)
        return found

    def sockets_of(self, pid: int) -> FrozenSet[int]:
        return frozenset(s.inode for s in self.sockets.get(pid, []))

    def read_pid(self, path: str) -> Optional[int]:
        return None


@dataclass
class FakeLive:
    observed_state: Observed = field(default_factory=Observed)
    macs: Dict[str, str] = field(default_factory=dict)
    promote: Dict[str, int] = field(default_factory=dict)
    daemon_state: Optional[FakeDaemons] = None
    running: Optional[FrozenSet[str]] = None

    def observed(self) -> Observed:
        return self.observed_state

    def mac_addresses(self) -> Mapping[str, str]:
        links = self.observed().links  # as SystemLive, which lists the links first
        return {name: mac for name, mac in self.macs.items() if name in links}

    def promote_secondaries(self, ifname: str) -> Optional[int]:
        if ifname not in self.observed_state.links:
            return None
        return self.promote.get(ifname, 0)  # a new namespace starts with 0

    def daemons(self) -> Optional[FakeDaemons]:
        return self.daemon_state

    def processes(self) -> Optional[FrozenSet[str]]:
        return self.running


@dataclass
class FakeKernel:
    """The Netlink port over a FakeLive's state. It deletes routes as the kernel does (a
    delete without a scope matches a route of any scope) and refuses every other change;
    ``refuse`` is the errno it answers every request with instead (EPERM: no
    CAP_NET_ADMIN). Each ``open()`` is a new socket to the same state."""

    live: FakeLive
    refuse: int = 0
    deleted: List[Route] = field(default_factory=list)
    opened: int = 0
    closed: int = 0

    def open(self) -> FakeKernel:
        self.opened += 1
        return self

    def close(self) -> None:
        self.closed += 1

    def observe(self, ifnames: Collection[str], tables: Optional[Collection[int]]) -> Observed:
        state = self.live.observed_state
        return replace(state, routes=frozenset(r for r in state.routes
                                               if tables is None or r.table in tables))

    def execute(self, ops: Sequence[Op]) -> List[Outcome]:
        return [self._one(op) for op in ops]

    def _one(self, op: Op) -> Outcome:
        if self.refuse:
            return self.refuse, ""
        if not isinstance(op, RouteOp) or op.verb is not Verb.DELETE:
            return errno.EOPNOTSUPP, "FakeKernel only deletes routes"
        state = self.live.observed_state
        found = [r for r in state.routes
                 if (replace(r, scope=None) if op.route.scope is None else r) == op.route]
        if not found:
            return errno.ESRCH, "No such process"
        self.deleted.append(op.route)
        self.live.observed_state = replace(state, routes=state.routes - {found[0]})
        return 0, ""


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def address(ifname: str, cidr: str, label: Optional[str] = None) -> Address:
    return Address(ifname, ipaddress.ip_interface(cidr), label)


def route(dst: str, *, via: Optional[str] = None, dev: str = "eth0",
          src: Optional[str] = None, metric: int = 0, table: int = MAIN_TABLE,
          scope: Optional[str] = None) -> Route:
    return Route(ipaddress.ip_network(dst), table, metric, dev, ip(via) if via else None,
                 ip(src) if src else None, scope or ("global" if via else "link"))


def rule(src: str, table: int, priority: int) -> Rule:
    return Rule(table=table, priority=priority, src=ipaddress.ip_network(src))


def kernel(*, links: Iterable[str] = ("lo", "eth0"), addresses: Iterable[Address] = (),
           leases: Iterable[Address] = (), routes: Iterable[Route] = (),
           rules: Iterable[Rule] = ()) -> Observed:
    """The state a namespace shows: lo's addresses, the given ones, the leases (dynamic)."""
    leases = list(leases)
    held = [address("lo", "127.0.0.1/8"), address("lo", "::1/128"), *addresses, *leases]
    return Observed(links=frozenset(links), addresses=frozenset(held),
                    routes=frozenset(routes), rules=frozenset(rules),
                    dynamic=frozenset(a.key for a in leases))


def lan(*, aliases: Iterable[Address] = (), routes: Iterable[Route] = (),
        rules: Iterable[Rule] = (), lease: str = "10.77.0.10/24",
        links: Iterable[str] = ("lo", "eth0")) -> Observed:
    """eth0 with a DHCP lease on 10.77.0.0/24 (the primary), its default route, and more."""
    held = address("eth0", lease)
    network = str(held.interface.network)
    return kernel(links=links, addresses=aliases, leases=[held], rules=rules,
                  routes=[route(network, src=str(held.interface.ip)),
                          route("0.0.0.0/0", via="10.77.0.1"), *routes])


def static_lan(*, aliases: Iterable[Address] = ()) -> Observed:
    """eth0 with a static primary 10.77.0.10/24 (no lease), its default route, and more."""
    return kernel(addresses=[address("eth0", "10.77.0.10/24"), *aliases],
                  routes=[route("10.77.0.0/24", src="10.77.0.10"),
                          route("0.0.0.0/0", via="10.77.0.1")])


def test_system_live_reads_proc_and_sys_of_the_namespace(tmp_path: Path) -> None:
    proc, sys_net = tmp_path / "proc", tmp_path / "sys"
    (proc / "sys/net/ipv4/conf/eth0").mkdir(parents=True)
    (proc / "sys/net/ipv4/conf/eth0/promote_secondaries").write_text("1\n")
    (proc / "net").mkdir()
    (proc / "net/udp").write_text("  sl  local_address ...\n"
                                  "   5: 0A004D0A:007B 00000000:0000 07 0 0 0 0 0 0 0\n")
    (proc / "4242").mkdir()
    (proc / "4242/comm").write_text("python3\n")
    (proc / "4242/cmdline").write_bytes(b"/usr/bin/python3\0/usr/bin/networkd-dispatcher\0-v\0")
    (proc / "4243").mkdir()  # ended while being listed
    live = SystemLive(look_at_processes=True, proc=proc, sys_net=sys_net)
    assert live.promote_secondaries("eth0") == 1
    assert live.promote_secondaries("eth9") is None
    daemons = live.daemons()
    assert isinstance(daemons, ProcLive) and daemons.proc == proc
    assert live.processes() == frozenset({"python3", "networkd-dispatcher"})
    assert SystemLive(look_at_processes=False, proc=proc).processes() is None
    assert SystemLive(look_at_processes=False, proc=proc).daemons() is None
