"""Ownership record, journal, run lock and the model codec: the files nethook keeps."""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import json
import multiprocessing
import time
from pathlib import Path
from typing import Optional

import pytest

from nethook.base.errors import LockTimeout, StateError
from nethook.base.lock import RunLock
from nethook.engine import journal, ownership
from nethook.engine.apply import Status, judge
from nethook.engine.snapshot_file import invalid_reason
from nethook.model.codec import from_dict, to_dict
from nethook.model.objects import Address, KernelObject, Observed, Route, Rule
from nethook.model.ops import AddressOp, RuleOp, Verb

OBJECTS = [
    Address("eth0", ipaddress.ip_interface("10.77.0.50/24"), "eth0:0"),
    Address("eth0", ipaddress.ip_interface("2001:db8::5/64")),
    Route(dst=ipaddress.ip_network("0.0.0.0/0"), table=1000, metric=5, ifname="eth0",
          gateway=ipaddress.ip_address("10.77.0.1"), src=ipaddress.ip_address("10.77.0.50"),
          scope="global", onlink=True),
    Rule(table=1000, family=6, priority=100, src=ipaddress.ip_network("2001:db8::/64"),
         fwmark=0x10, fwmask=0xFF, iif="eth0", oif="eth1", ifname="eth0"),
]


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: type(o).__name__)
def test_codec_round_trip(obj: object) -> None:
    back = from_dict(json.loads(json.dumps(to_dict(obj))))  # type: ignore[arg-type]
    assert back == obj
    assert getattr(back, "ifname", None) == getattr(obj, "ifname", None)


def test_codec_rejects_garbage() -> None:
    with pytest.raises(StateError, match="unreadable state record"):
        from_dict({"kind": "address", "ifname": "eth0", "address": "10.0.0.300/24"})


def test_ownership_round_trip_and_absent_is_empty(tmp_path: Path) -> None:
    assert ownership.load(tmp_path) == frozenset()
    ownership.save(tmp_path, OBJECTS)
    assert ownership.load(tmp_path) == frozenset(OBJECTS)
    assert json.loads((tmp_path / "owned.json").read_text())["version"] == 2


def test_an_intent_left_behind_is_settled_against_the_kernel(tmp_path: Path) -> None:
    route = OBJECTS[2]
    assert isinstance(route, Route)
    ownership.save(tmp_path, OBJECTS[:1], pending=OBJECTS[1:])
    record = ownership.load_record(tmp_path)
    assert record.pending == frozenset(OBJECTS[1:])
    # the kernel holds the route as added (the kernel reports attributes nethook left
    # unstated, which still match) and the rule, but not the IPv6 address
    kernel = Observed(routes=frozenset({dataclasses.replace(route, origin=None)}),
                      rules=frozenset({OBJECTS[3]}))  # type: ignore[arg-type]
    assert record.settled(kernel) == ownership.Record(frozenset({*OBJECTS[:1], *OBJECTS[2:]}))
    changed = dataclasses.replace(route, gateway=ipaddress.ip_address("10.77.0.9"))
    assert ownership.Record(pending=frozenset({route})).settled(
        Observed(routes=frozenset({changed}))).owned == frozenset()


@pytest.mark.parametrize("obj, reason", [
    (OBJECTS[0], None),
    (Address("lo", ipaddress.ip_interface("127.9.9.9/8")), "on lo, not eth0"),
    (Address("eth0", ipaddress.ip_interface("fe80::9/64")), "a link-local address"),
    (dataclasses.replace(OBJECTS[2], table=254), "table 254 is the system's"),
    (dataclasses.replace(OBJECTS[2], ifname="eth1"), "through eth1, not eth0"),
    (Rule(table=100, priority=0), "priority 0 belongs to the kernel's own rules"),
    (Rule(table=100, priority=32767), "priority 32767 belongs"),
    (Rule(table=253, priority=5), "table 253 is the system's"),
    (Rule(table=100, priority=5, iif="eth1"), "names another interface than eth0"),
    (Rule(table=100, priority=5, iif="eth0"), None),
])
def test_what_a_snapshot_may_hold(obj: KernelObject, reason: Optional[str]) -> None:
    found = invalid_reason(obj, "eth0")
    assert found == reason if reason is None else (found or "").startswith(reason)


def test_corrupt_ownership_record_is_an_error_not_empty(tmp_path: Path) -> None:
    (tmp_path / "owned.json").write_text('{"version": 1, "objects": [')
    with pytest.raises(StateError, match="not valid JSON"):
        ownership.load(tmp_path)


def test_journal_is_bounded_and_keeps_newest(tmp_path: Path) -> None:
    for i in range(200):
        journal.append(tmp_path, {"n": i, "event": {"ifname": "eth0" if i % 2 else "eth1"},
                                  "pad": "x" * 100}, max_bytes=4096)
    sizes = [p.stat().st_size for p in tmp_path.glob("journal.jsonl*")]
    assert len(sizes) == 2 and all(size <= 4096 for size in sizes)
    assert journal.last_entry(tmp_path)["n"] == 199  # type: ignore[index]
    assert journal.last_entry(tmp_path, "eth1")["n"] == 198  # type: ignore[index]


def test_journal_skips_torn_lines(tmp_path: Path) -> None:
    journal.append(tmp_path, {"n": 1})
    with (tmp_path / "journal.jsonl").open("a") as handle:
        handle.write('{"n": 2, "trunc')
    assert [e["n"] for e in journal.entries(tmp_path)] == [1]


@pytest.mark.parametrize("op, code, status", [
    (AddressOp(Verb.ADD, OBJECTS[0]), 0, Status.APPLIED),
    (AddressOp(Verb.ADD, OBJECTS[0]), errno.EEXIST, Status.ALREADY),
    (AddressOp(Verb.DELETE, OBJECTS[0]), errno.EADDRNOTAVAIL, Status.ALREADY),
    (RuleOp(Verb.DELETE, OBJECTS[3]), errno.ENOENT, Status.ALREADY),
    (RuleOp(Verb.ADD, OBJECTS[3]), errno.ENODEV, Status.FAILED),
    (AddressOp(Verb.ADD, OBJECTS[0]), errno.EPERM, Status.FAILED),
])
def test_errno_policy(op: AddressOp, code: int, status: Status) -> None:
    assert judge(op, code, "").status is status


def test_failure_carries_the_kernels_reason() -> None:
    result = judge(AddressOp(Verb.ADD, OBJECTS[0]), errno.ENETUNREACH,
                   "Nexthop has invalid gateway")
    assert result.reason == "Nexthop has invalid gateway (ENETUNREACH)"


def _hold_lock(run_dir: str, seconds: float, ready: multiprocessing.synchronize.Event) -> None:
    with RunLock(Path(run_dir), timeout=5):
        ready.set()
        time.sleep(seconds)


def test_second_run_waits_then_times_out(tmp_path: Path) -> None:
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(tmp_path), 3.0, ready))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LockTimeout, match="another nethook run held"), \
                RunLock(tmp_path, timeout=0.2):
            pass
    finally:
        holder.join(10)
    with RunLock(tmp_path, timeout=0.2):  # released when the holder exited
        assert (tmp_path / "lock").stat().st_mode & 0o777 == 0o600
