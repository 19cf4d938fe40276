"""The hook path on the fake kernel: snapshot before, restore after, and what a lease forbids.

FakeNetlink (tests/fakes.py) mirrors the kernel's answers; the contract tests in
tests/integration/test_netlink_contract.py hold it to the real kernel.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from pathlib import Path
from typing import List, Optional

import pytest

from nethook.base.context import RunContext
from nethook.engine import coalesce
from nethook.engine import snapshot_file as snapshot
from nethook.engine.run import handle, restore
from nethook.events import Event, Kind
from nethook.model.objects import Address, Route, Rule
from nethook.model.ops import AddressOp, RouteOp, RuleOp, Verb
from tests.fakes import FakeNetlink

LEASE_OLD = ipaddress.ip_interface("10.77.0.10/24")
LEASE_NEW = ipaddress.ip_interface("10.77.0.11/24")
ALIAS = Address("eth0", ipaddress.ip_interface("10.77.0.50/24"), "eth0:0")
OTHER_NET_ALIAS = Address("eth0", ipaddress.ip_interface("192.0.2.7/32"))
TABLE_ROUTE = Route(dst=ipaddress.ip_network("0.0.0.0/0"), table=100, ifname="eth0",
                    gateway=ipaddress.ip_address("10.77.0.1"), scope="global")
RULE = Rule(table=100, priority=1000, src=ipaddress.ip_network("10.77.0.50/32"))


class Kernel:
    """One fake kernel shared by every run of a test (each run closes what it opened)."""

    def __init__(self) -> None:
        self.fake = FakeNetlink()

    def open(self) -> FakeNetlink:
        self.fake._closed = False  # a new "socket" on the same kernel
        return self.fake

    def run(self, *ops: object) -> None:
        outcomes = self.open().execute(list(ops))  # type: ignore[arg-type]
        assert all(code == 0 for code, _ in outcomes), outcomes

    def addresses(self) -> List[str]:
        observed = self.open().observe(["eth0"], None)
        return sorted(a.interface.with_prefixlen for a in observed.addresses
                      if not a.interface.ip.is_link_local)


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(root=tmp_path / "root", state_dir=tmp_path / "state",
                      run_dir=tmp_path / "run", lock_timeout=5)


@pytest.fixture
def kernel() -> Kernel:
    k = Kernel()
    k.fake.lease(Address("eth0", LEASE_OLD))
    k.run(AddressOp(Verb.ADD, ALIAS), AddressOp(Verb.ADD, OTHER_NET_ALIAS),
          RouteOp(Verb.ADD, TABLE_ROUTE), RuleOp(Verb.ADD, RULE))
    return k


def event(kind: Kind, reason: str, new: Optional[ipaddress.IPv4Interface] = None,
          old: Optional[ipaddress.IPv4Interface] = None) -> Event:
    return Event(source="dhclient", kind=kind, reason=reason, ifname="eth0",
                 new_address=new, old_address=old)


def lease_change(kernel: Kernel) -> None:
    """EXPIRE flushes the old lease: its secondaries go with it, and with the last IPv4
    address every IPv4 route through the link (the fake kernel does both, like Linux)."""
    kernel.run(AddressOp(Verb.DELETE, Address("eth0", LEASE_OLD)),
               AddressOp(Verb.DELETE, OTHER_NET_ALIAS))
    assert kernel.addresses() == []
    assert TABLE_ROUTE not in kernel.open().observe(["eth0"], None).routes


def test_snapshot_then_restore_after_a_lease_change(ctx: RunContext, kernel: Kernel) -> None:
    handle(ctx, event(Kind.PREPARE, "EXPIRE", old=LEASE_OLD), open_netlink=kernel.open)
    taken = snapshot.load(ctx.run_dir, "eth0")
    assert taken is not None
    assert taken.addresses == {ALIAS, OTHER_NET_ALIAS}  # not the lease: it is dynamic
    assert taken.routes == {TABLE_ROUTE} and taken.rules == {RULE}

    lease_change(kernel)
    handle(ctx, event(Kind.PREPARE, "BOUND", new=LEASE_NEW),
           open_netlink=kernel.open)  # stripped: kept
    assert snapshot.load(ctx.run_dir, "eth0") == taken
    kernel.fake.lease(Address("eth0", LEASE_NEW))
    handle(ctx, event(Kind.CONFIGURE, "BOUND", new=LEASE_NEW), open_netlink=kernel.open)

    assert kernel.addresses() == ["10.77.0.11/24", "10.77.0.50/24", "192.0.2.7/32"]
    observed = kernel.open().observe(["eth0"], [100])
    assert TABLE_ROUTE in observed.routes
    entries = [json.loads(line) for line in
               (ctx.state_dir / "journal.jsonl").read_text().splitlines()]
    assert [e["event"]["reason"] for e in entries] == ["EXPIRE", "BOUND", "BOUND"]
    assert entries[-1]["plan"] == ["ip -4 address add 10.77.0.50/24 dev eth0 label eth0:0",
                                   "ip -4 address add 192.0.2.7/32 dev eth0",
                                   "ip -4 route add default via 10.77.0.1 dev eth0 scope "
                                   "global table 100 proto 177"]


def test_alias_waits_for_the_new_lease_address(ctx: RunContext, kernel: Kernel) -> None:
    handle(ctx, event(Kind.PREPARE, "EXPIRE", old=LEASE_OLD), open_netlink=kernel.open)
    lease_change(kernel)
    result = restore(ctx, event(Kind.CONFIGURE, "BOUND", new=LEASE_NEW), open_netlink=kernel.open)
    assert result is not None
    # Without the lease on the link, the same-subnet alias would become the primary.
    assert kernel.addresses() == ["192.0.2.7/32"]
    assert [s.target for s in result.plan.skipped] == [ALIAS]
    assert "is not on eth0 yet" in result.plan.skipped[0].reason


def test_previous_lease_address_is_never_restored(ctx: RunContext, kernel: Kernel) -> None:
    (ctx.root / "etc" / "nethook").mkdir(parents=True)
    (ctx.root / "etc" / "nethook" / "nethook.yaml").write_text(
        "version: 1\ninterfaces:\n  eth0:\n    addresses: [10.77.0.10/24, 10.77.0.11/24]\n")
    lease_change(kernel)
    kernel.fake.lease(Address("eth0", LEASE_NEW))
    result = restore(ctx, event(Kind.CONFIGURE, "RENEW", new=LEASE_NEW, old=LEASE_OLD),
                     open_netlink=kernel.open)
    assert result is not None and result.plan.ops == ()
    assert {s.reason for s in result.plan.skipped} == {"10.77.0.10 was the previous lease"}


def test_snapshot_false_takes_none(ctx: RunContext, kernel: Kernel) -> None:
    (ctx.root / "etc" / "nethook").mkdir(parents=True)
    (ctx.root / "etc" / "nethook" / "nethook.yaml").write_text("version: 1\nsnapshot: false\n")
    handle(ctx, event(Kind.PREPARE, "EXPIRE", old=LEASE_OLD), open_netlink=kernel.open)
    assert snapshot.load(ctx.run_dir, "eth0") is None


def test_bad_config_still_restores_the_snapshot(ctx: RunContext, kernel: Kernel,
                                                caplog: pytest.LogCaptureFixture) -> None:
    handle(ctx, event(Kind.PREPARE, "EXPIRE", old=LEASE_OLD), open_netlink=kernel.open)
    (ctx.root / "etc" / "nethook").mkdir(parents=True)
    (ctx.root / "etc" / "nethook" / "nethook.yaml").write_text("version: 1\nbogus: 1\n")
    lease_change(kernel)
    kernel.fake.lease(Address("eth0", LEASE_NEW))
    with caplog.at_level(logging.ERROR):
        handle(ctx, event(Kind.CONFIGURE, "BOUND", new=LEASE_NEW), open_netlink=kernel.open)
    assert "10.77.0.50/24" in kernel.addresses()
    assert "invalid configuration, restoring the snapshot only" in caplog.text
    assert "nethook.yaml:2" in caplog.text


def test_teardown_restores_nothing(ctx: RunContext, kernel: Kernel) -> None:
    handle(ctx, event(Kind.PREPARE, "RELEASE"), open_netlink=kernel.open)
    lease_change(kernel)
    handle(ctx, event(Kind.TEARDOWN, "RELEASE"), open_netlink=kernel.open)
    assert kernel.addresses() == []
    assert snapshot.load(ctx.run_dir, "eth0") is not None


def test_coalescing_counts(tmp_path: Path) -> None:
    first = coalesce.arrive(tmp_path, "eth0")
    second = coalesce.arrive(tmp_path, "eth0")
    assert (first, second) == (1, 2)
    assert not coalesce.already_served(tmp_path, "eth0", first)
    coalesce.start_serving(tmp_path, "eth0")  # a run starts after both arrived
    assert coalesce.already_served(tmp_path, "eth0", first)
    assert coalesce.already_served(tmp_path, "eth0", second)
    third = coalesce.arrive(tmp_path, "eth0")
    assert not coalesce.already_served(tmp_path, "eth0", third)
    assert not coalesce.already_served(tmp_path, "eth0.4", 1)  # a dotted name is its own


def test_a_restored_snapshot_is_consumed_and_replay_can_still_use_it(
        ctx: RunContext, kernel: Kernel) -> None:
    handle(ctx, event(Kind.PREPARE, "EXPIRE", old=LEASE_OLD), open_netlink=kernel.open)
    lease_change(kernel)
    kernel.fake.lease(Address("eth0", LEASE_NEW))
    handle(ctx, event(Kind.CONFIGURE, "BOUND", new=LEASE_NEW), open_netlink=kernel.open)
    assert snapshot.load(ctx.run_dir, "eth0") is None  # consumed: the kernel is the truth
    assert snapshot.load(ctx.run_dir, "eth0", consumed_too=True) is not None

    kernel.run(AddressOp(Verb.DELETE, OTHER_NET_ALIAS))  # the administrator removes one
    handle(ctx, event(Kind.CONFIGURE, "RENEW", new=LEASE_NEW, old=LEASE_NEW),
           open_netlink=kernel.open)
    assert "192.0.2.7/32" not in kernel.addresses()  # and it stays removed

    result = restore(ctx, event(Kind.CONFIGURE, "BOUND", new=LEASE_NEW), replay=True,
                     open_netlink=kernel.open)  # `nethook replay` asks for it back
    assert result is not None and "192.0.2.7/32" in kernel.addresses()


def test_a_partly_restored_snapshot_stays_for_the_next_event(ctx: RunContext,
                                                              kernel: Kernel) -> None:
    handle(ctx, event(Kind.PREPARE, "EXPIRE", old=LEASE_OLD), open_netlink=kernel.open)
    lease_change(kernel)
    restore(ctx, event(Kind.CONFIGURE, "BOUND", new=LEASE_NEW), open_netlink=kernel.open)
    assert snapshot.load(ctx.run_dir, "eth0") is not None  # the alias was withheld
