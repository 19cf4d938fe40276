"""Network namespaces that one test owns, built with iproute2's `ip`.

The host's network is never touched: every namespace gets a fresh unique name
(prefix ``nht-``), both ends of a veth pair are created directly inside test
namespaces, sysctls are set per namespace through ``ip netns exec``, and
everything is removed in a ``finally``, including processes started inside.

    with veth_namespace() as lab:
        lab.ns.ip("addr", "add", "192.0.2.2/24", "dev", lab.ifname)
        lab.peer.spawn(["dnsmasq", "--keep-in-foreground", ...])

Processes given to ``spawn`` must stay in the foreground (``dhclient -d``,
``dnsmasq -k``, ``ntpd -n``); anything that still runs in the namespace at the
end is killed by PID too (``ip netns pids``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

PREFIX = "nht-"
CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
_TIMEOUT = 30.0


def _run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), check=check, capture_output=True, text=True, timeout=_TIMEOUT
    )


def unique_name(prefix: str = PREFIX) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def namespace_names() -> frozenset[str]:
    """Names of the namespaces `ip netns` knows (it prints nothing when there are none)."""
    out = _run(["ip", "-j", "netns", "list"]).stdout.strip()
    return frozenset(entry["name"] for entry in json.loads(out)) if out else frozenset()


class Namespace:
    """A named network namespace; made and removed by `namespace()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._procs: list[subprocess.Popen[bytes]] = []

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """`argv` wrapped so that it runs inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(self.exec_argv(argv), check=check)

    def ip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run(["ip", "-n", self.name, *args])

    def ip_json(self, *args: str) -> Any:
        """`ip -j` output, parsed; e.g. ``ip_json("addr", "show", "dev", "eth0")``."""
        return json.loads(_run(["ip", "-j", "-n", self.name, *args]).stdout)

    def sysctl(self, key: str, value: str) -> None:
        self.run(["sysctl", "-qw", f"{key}={value}"])

    def spawn(self, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a foreground process inside; it is killed when the namespace goes."""
        proc: subprocess.Popen[bytes] = subprocess.Popen(self.exec_argv(argv), **popen_kwargs)
        self._procs.append(proc)
        return proc

    def kill_processes(self) -> None:
        """End what `spawn` started (SIGTERM, then SIGKILL), then anything else still inside."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        self._procs.clear()
        for pid in _run(["ip", "netns", "pids", self.name], check=False).stdout.split():
            with suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


@contextmanager
def namespace(name: str | None = None) -> Iterator[Namespace]:
    """A new namespace with `lo` up; its processes and the namespace itself go on exit."""
    ns = Namespace(name or unique_name())
    _run(["ip", "netns", "add", ns.name])
    try:
        ns.ip("link", "set", "lo", "up")
        yield ns
    finally:
        try:
            ns.kill_processes()
        finally:
            _run(["ip", "netns", "delete", ns.name])


@dataclass(frozen=True)
class VethNamespace:
    """`ns` holds `ifname`; its veth peer `peer_ifname` lives in the namespace `peer`."""

    ns: Namespace
    ifname: str
    peer: Namespace
    peer_ifname: str

    @property
    def name(self) -> str:
        return self.ns.name


@contextmanager
def veth_namespace(
    ifname: str = "eth0", peer_ifname: str = "veth0", *, ipv6: bool = True,
    prefix: str = PREFIX,
) -> Iterator[VethNamespace]:
    """Two fresh namespaces joined by a veth pair whose ends are both up.

    ``ipv6=False`` disables IPv6 in both, which keeps link-local addresses
    and router solicitations out of what a test observes. ``prefix`` starts
    both names (``nht-`` unless a suite uses its own).
    """
    stem = unique_name(prefix)
    with namespace(stem) as ns, namespace(f"{stem}-peer") as peer:
        veth = ["ip", "link", "add", ifname, "netns", ns.name, "type", "veth"]
        _run([*veth, "peer", "name", peer_ifname, "netns", peer.name])
        for side, dev in ((ns, ifname), (peer, peer_ifname)):
            if not ipv6:
                side.sysctl("net.ipv6.conf.all.disable_ipv6", "1")
                side.sysctl("net.ipv6.conf.default.disable_ipv6", "1")
            side.ip("link", "set", dev, "up")
        yield VethNamespace(ns, ifname, peer, peer_ifname)


@contextmanager
def lan_namespace(prefix: str, lease: str = "10.77.0.10/24", gateway: str = "10.77.0.1/24",
                  *, lifetime: int | None = 600, ifname: str = "eth0",
                  peer_ifname: str = "veth0") -> Iterator[VethNamespace]:
    """An IPv4-only veth namespace whose interface holds ``lease`` and whose peer is the
    ``gateway``. With a ``lifetime`` the lease is dynamic, as dhclient adds it (nethook
    never keeps it); ``lifetime=None`` makes it a static address."""
    with veth_namespace(ifname, peer_ifname, prefix=prefix, ipv6=False) as veth:
        lifetimes = [] if lifetime is None else ["valid_lft", str(lifetime),
                                                 "preferred_lft", str(lifetime)]
        veth.ns.ip("addr", "add", lease, "dev", ifname, *lifetimes)
        veth.peer.ip("addr", "add", gateway, "dev", peer_ifname)
        yield veth


def require(problem: str | None) -> None:
    """Skip the running test for ``problem`` (a missing tool, no namespaces); under
    NETHOOK_REQUIRE_NETNS=1, what `make test` and CI set, fail it instead: CI must never
    go green by skipping."""
    if problem is None:
        return
    import pytest

    if os.environ.get("NETHOOK_REQUIRE_NETNS") == "1":
        pytest.fail(f"NETHOOK_REQUIRE_NETNS=1 but {problem}", pytrace=False)
    pytest.skip(problem)


def privilege_problem() -> str | None:
    """Why network-namespace tests cannot run here, or None when they can.

    The effective capability set is checked rather than the uid: fakeroot and
    unprivileged build chroots have uid 0 without the capabilities.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    cap_eff = int(fields.get("CapEff", "0").strip(), 16)
    missing = [
        cap
        for cap, bit in (("CAP_NET_ADMIN", CAP_NET_ADMIN), ("CAP_SYS_ADMIN", CAP_SYS_ADMIN))
        if not cap_eff & (1 << bit)
    ]
    if missing:
        return f"effective capabilities lack {' and '.join(missing)}"
    probe = unique_name()
    try:
        added = _run(["ip", "netns", "add", probe], check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run `ip netns add`: {exc}"
    if added.returncode != 0:
        return f"`ip netns add` failed: {added.stderr.strip()}"
    _run(["ip", "netns", "delete", probe])
    return None
