"""The objects one scale step restores, in each form the compared methods read them.

For N secondary addresses there are ceil(N/10) policy rules and as many table routes,
the per-alias source routing a hosting server carries::

    10.88.1.1/16 dev eth0 label eth0:0, 10.88.1.2/16 ... label eth0:1, ...
    from 10.88.1.1/32 table 1000 priority 1000      default via 10.88.0.1 dev eth0 table 1000
    from 10.88.1.2/32 table 1001 priority 1001      default via 10.88.0.1 dev eth0 table 1001

The same objects become nethook's YAML, the shell loop's script (one ``ip`` command per
object), an ``ip -batch`` file, and the batch file that removes them again. ``verify``
reads the kernel's state back with ``ip -j`` and says what differs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, FrozenSet, List, Tuple

from bench.sandbox import GATEWAY, IFNAME, PREFIXLEN, PRIMARY

FIRST_TABLE = 1000  # also the first rule priority
ALIAS_BASE = int(ipaddress.IPv4Address("10.88.1.0"))
ALIASES_PER_BLOCK = 250  # 10.88.1.1-250, 10.88.2.1-250, ...

IpJson = Callable[..., Any]


def alias_ip(index: int) -> str:
    block, host = divmod(index, ALIASES_PER_BLOCK)
    return str(ipaddress.IPv4Address(ALIAS_BASE + block * 256 + host + 1))


@dataclass(frozen=True)
class Workload:
    n: int  # secondary addresses

    @property
    def policy_count(self) -> int:
        """Rules, and table routes: N/10 rounded up, so that N = 1 has one of each."""
        return -(-self.n // 10)

    @property
    def object_count(self) -> int:
        return self.n + 2 * self.policy_count

    def addresses(self) -> List[Tuple[str, str]]:
        """(address/prefix, label) of every alias."""
        return [(f"{alias_ip(i)}/{PREFIXLEN}", f"{IFNAME}:{i}") for i in range(self.n)]

    def policies(self) -> List[Tuple[str, int]]:
        """(source address, table) of every rule; the table's number is its priority."""
        return [(alias_ip(i), FIRST_TABLE + i) for i in range(self.policy_count)]

    # -- the forms each method reads ---------------------------------------------------

    def config_yaml(self) -> str:
        lines = ["# nethook benchmark (bench/workload.py)", "version: 1", "interfaces:",
                 f"  {IFNAME}:", "    addresses:"]
        lines += [f'      - {{address: {cidr}, label: "{label}"}}'
                  for cidr, label in self.addresses()]
        lines.append("    routes:")
        lines += [f"      - {{to: default, via: {GATEWAY}, table: {table}}}"
                  for _source, table in self.policies()]
        lines.append("    routing-policy:")
        lines += [f"      - {{from: {source}/32, table: {table}, priority: {table}}}"
                  for source, table in self.policies()]
        return "\n".join(lines) + "\n"

    def ip_commands(self) -> List[str]:
        """One ``ip`` command (without ``ip``) per object, addresses first."""
        commands = [f"address add {cidr} dev {IFNAME} label {label}"
                    for cidr, label in self.addresses()]
        commands += [f"route add default via {GATEWAY} dev {IFNAME} table {table}"
                     for _source, table in self.policies()]
        commands += [f"rule add from {source}/32 table {table} priority {table}"
                     for source, table in self.policies()]
        return commands

    def shell_loop(self) -> str:
        """What administrators write today: one ``ip`` process per object."""
        return "".join(f"ip {command}\n" for command in self.ip_commands())

    def batch(self) -> str:
        return "".join(f"{command}\n" for command in self.ip_commands())

    def break_batch(self) -> str:
        """Removes every object again (rules, routes, then addresses)."""
        lines = [f"rule del from {source}/32 table {table} priority {table}"
                 for source, table in self.policies()]
        lines += [f"route del default via {GATEWAY} dev {IFNAME} table {table}"
                  for _source, table in self.policies()]
        lines += [f"address del {cidr} dev {IFNAME}" for cidr, _label in self.addresses()]
        return "".join(f"{line}\n" for line in lines)

    def write_files(self, directory: Path) -> WorkloadFiles:
        directory.mkdir(parents=True, exist_ok=True)
        files = WorkloadFiles(directory)
        files.config.write_text(self.config_yaml(), encoding="utf-8")
        files.loop.write_text("# one ip command per object (bench/workload.py)\n"
                              + self.shell_loop(), encoding="utf-8")
        files.batch.write_text(self.batch(), encoding="utf-8")
        files.breaker.write_text(self.break_batch(), encoding="utf-8")
        return files

    # -- checking the kernel -----------------------------------------------------------

    def expected(self) -> KernelState:
        return KernelState(
            addresses=frozenset(self.addresses()),
            rules=frozenset((source, table, table) for source, table in self.policies()),
            routes=frozenset(table for _source, table in self.policies()))

    def verify(self, ip_json: IpJson) -> List[str]:
        """What the kernel lacks or has besides this workload ([] when it matches)."""
        return self.expected().differences(KernelState.read(ip_json))

    def verify_absent(self, ip_json: IpJson) -> List[str]:
        """[] when none of the workload's objects is left."""
        return KernelState().differences(KernelState.read(ip_json))


@dataclass(frozen=True)
class WorkloadFiles:
    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "nethook.yaml"

    @property
    def loop(self) -> Path:
        return self.directory / "loop.sh"

    @property
    def batch(self) -> Path:
        return self.directory / "restore.batch"

    @property
    def breaker(self) -> Path:
        return self.directory / "break.batch"


@dataclass(frozen=True)
class KernelState:
    """The benchmark's objects as ``ip -j`` shows them (the primary address left out)."""

    addresses: FrozenSet[Tuple[str, str]] = frozenset()
    rules: FrozenSet[Tuple[str, int, int]] = frozenset()  # source, table, priority
    routes: FrozenSet[int] = frozenset()  # tables holding default via GATEWAY dev eth0

    @classmethod
    def read(cls, ip_json: IpJson) -> KernelState:
        links = ip_json("-4", "address", "show", "dev", IFNAME)
        addresses = frozenset(
            (f"{info['local']}/{info['prefixlen']}", str(info.get("label", IFNAME)))
            for link in links for info in link.get("addr_info", [])
            if info.get("family") == "inet" and info.get("local") != PRIMARY)
        rules = frozenset(
            (str(rule.get("src")), int(rule["table"]), int(rule["priority"]))
            for rule in ip_json("-4", "rule", "show")
            if str(rule.get("table", "")).isdigit() and int(rule["table"]) >= FIRST_TABLE)
        routes = frozenset(
            int(route["table"]) for route in ip_json("-4", "route", "show", "table", "all")
            if str(route.get("table", "")).isdigit() and int(route["table"]) >= FIRST_TABLE
            and route.get("dst") == "default" and route.get("gateway") == GATEWAY
            and route.get("dev") == IFNAME)
        return cls(addresses, rules, routes)

    def differences(self, actual: KernelState) -> List[str]:
        problems = []
        for kind in ("addresses", "rules", "routes"):
            want, have = getattr(self, kind), getattr(actual, kind)
            if want - have:
                problems.append(f"{len(want - have)} {kind} missing, e.g. "
                                f"{sorted(want - have)[0]}")
            if have - want:
                problems.append(f"{len(have - want)} unexpected {kind}, e.g. "
                                f"{sorted(have - want)[0]}")
        return problems
