"""nethook acts only on state it wrote itself, and never loses track of what it owns.

Each test is an attack (or a crash) tried against a real hook run in a test namespace:
planted links in the run directory, snapshots that would steer root's routing, a
corrupt or oversized snapshot, and ``kill -9`` in the middle of an apply.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Dict, List, Set

import pytest

from lab.nethook_env import NethookDirs, temporary_dirs
from lab.netns import VethNamespace, lan_namespace

pytestmark = pytest.mark.privileged

NOBODY = 65534
LEASE = "10.77.0.10"
CONFIG = """\
version: 1
interfaces:
  eth0:
    addresses:
      - {address: 10.77.0.50/24, label: "eth0:0"}
"""
BOUND = {"reason": "BOUND", "interface": "eth0", "new_ip_address": LEASE,
         "new_subnet_mask": "255.255.255.0", "new_routers": "10.77.0.1"}


@pytest.fixture
def lab() -> Iterator[VethNamespace]:
    with lan_namespace("nht-", f"{LEASE}/24", lifetime=None) as veth:
        yield veth


@pytest.fixture
def dirs() -> Iterator[NethookDirs]:
    with temporary_dirs("nht-", CONFIG) as made:
        yield made


def hook(lab: VethNamespace, dirs: NethookDirs,
         env: Dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = dirs.command(lab.name, "hook", "dhclient-exit", env=env or BOUND)
    assert done.returncode == 0  # a hook never fails its caller
    assert "Traceback" not in done.stderr, done.stderr
    return done


def addresses(lab: VethNamespace, dev: str = "eth0") -> Set[str]:
    return {f"{a['local']}/{a['prefixlen']}"
            for link in lab.ns.ip_json("addr", "show", "dev", dev) for a in link["addr_info"]
            if a.get("scope") == "global" or dev == "lo"}


def write_snapshot(dirs: NethookDirs, objects: List[Dict[str, Any]],
                   ifname: str = "eth0") -> Path:
    folder = dirs.run / "snapshot"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{ifname}.json"
    path.write_text(json.dumps({"version": 1, "ifname": ifname, "reason": "EXPIRE",
                                "taken": "2026-12-02T10:00:00+00:00", "objects": objects}))
    return path


# -- 1. the run directory -------------------------------------------------------------------


@pytest.mark.parametrize("how", ["world-writable", "owned by nobody"])
def test_an_open_run_directory_is_refused_with_one_line(
        lab: VethNamespace, dirs: NethookDirs, tmp_path: Path, how: str) -> None:
    victims = {name: tmp_path / f"victim-{name}" for name in ("served", "count", "lock")}
    for name in ("served", "count"):
        victims[name].write_text("root's own\n")
        victims[name].chmod(0o600)
    for sub in ("served", "count"):
        (dirs.run / "events" / sub).mkdir(parents=True)
        (dirs.run / "events" / sub / "eth0").symlink_to(victims[sub])
    (dirs.run / "lock").symlink_to(victims["lock"])  # would create a third file
    if how == "world-writable":
        dirs.run.chmod(0o777)
    else:
        os.chown(dirs.run, NOBODY, NOBODY)

    done = hook(lab, dirs)

    assert victims["served"].read_text() == "root's own\n"
    assert victims["count"].read_text() == "root's own\n"
    assert not victims["lock"].exists()
    [line] = done.stderr.splitlines()
    assert str(dirs.run) in line
    assert ("writable by others" if how == "world-writable" else "owned by uid 65534") in line
    assert addresses(lab) == {f"{LEASE}/24"}  # nothing done with an untrusted directory


def test_a_planted_link_in_a_trusted_directory_is_never_followed(
        lab: VethNamespace, dirs: NethookDirs, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("root's own\n")
    (dirs.run / "events" / "count").mkdir(parents=True, mode=0o700)
    (dirs.run / "events" / "count" / "eth0").symlink_to(victim)
    done = hook(lab, dirs)
    assert victim.read_text() == "root's own\n"
    assert "symbolic link" in done.stderr and len(done.stderr.splitlines()) == 1


def test_nethook_makes_its_directories_private(lab: VethNamespace,
                                               dirs: NethookDirs) -> None:
    dirs.run.rmdir()
    dirs.state.rmdir()
    hook(lab, dirs)
    for path in (dirs.run, dirs.run / "events", dirs.run / "events" / "count",
                 dirs.run / "events" / "served", dirs.state):
        info = path.lstat()
        assert (oct(info.st_mode & 0o777), info.st_uid) == (oct(0o700), 0), path


# -- 2, 3, 5. snapshots ---------------------------------------------------------------------


ALIAS = {"kind": "address", "ifname": "eth0", "address": "10.77.0.60/24", "label": "eth0:1"}
FORBIDDEN = [
    {"kind": "address", "ifname": "lo", "address": "127.9.9.9/8"},
    {"kind": "address", "ifname": "eth0", "address": "fe80::99/64"},
    {"kind": "route", "to": "0.0.0.0/1", "via": "10.77.0.66", "ifname": "eth0", "table": 254},
    {"kind": "route", "to": "10.66.0.0/16", "via": "10.77.0.66", "ifname": "eth0",
     "table": 255},
    {"kind": "route", "to": "10.66.0.0/16", "via": "10.77.0.66", "ifname": "veth9",
     "table": 100},
    {"kind": "rule", "family": 4, "priority": 0, "table": 100, "ifname": "eth0"},
    {"kind": "rule", "family": 4, "priority": 5, "table": 254, "ifname": "eth0"},
    {"kind": "rule", "family": 4, "priority": 32766, "table": 100, "ifname": "eth0"},
    {"kind": "no such kind"},
]


def rules(lab: VethNamespace) -> List[Dict[str, Any]]:
    return list(lab.ns.ip_json("rule", "show"))


def test_a_snapshot_steering_root_s_routing_is_restored_only_where_valid(
        lab: VethNamespace, dirs: NethookDirs) -> None:
    write_snapshot(dirs, [ALIAS, *FORBIDDEN])
    done = hook(lab, dirs)
    assert addresses(lab) == {f"{LEASE}/24", "10.77.0.50/24", "10.77.0.60/24"}
    assert "127.9.9.9/8" not in addresses(lab, "lo")
    assert not [r for r in lab.ns.ip_json("route", "show", "table", "main")
                if r["dst"] == "0.0.0.0/1"]
    assert not [r for r in lab.ns.ip_json("route", "show", "table", "all")
                if str(r.get("table")) == "100"]
    assert sorted(r["priority"] for r in rules(lab)) == [0, 32766, 32767]  # the kernel's
    warnings = [line for line in done.stderr.splitlines() if "not restored" in line]
    assert len(warnings) == 1 and f"{len(FORBIDDEN)} object(s)" in warnings[0]


@pytest.mark.parametrize("damage", ["truncated", "owned by nobody", "another interface",
                                    "oversized"])
def test_a_snapshot_that_cannot_be_used_is_moved_aside_and_the_declared_state_restored(
        lab: VethNamespace, dirs: NethookDirs, damage: str) -> None:
    path = write_snapshot(dirs, [ALIAS])
    if damage == "truncated":
        path.write_text(path.read_text()[:40])
    elif damage == "owned by nobody":
        os.chown(path, NOBODY, NOBODY)
    elif damage == "another interface":
        path.write_text(path.read_text().replace('"ifname": "eth0", "reason"',
                                                 '"ifname": "eth1", "reason"'))
    else:  # 200,000 objects, about 14 MB: refused unread, well within the hook's bound
        many = [{"kind": "address", "ifname": "eth0", "address": f"10.{i >> 16 & 255}."
                 f"{i >> 8 & 255}.{i & 255}/32"} for i in range(200_000)]
        path.write_text(json.dumps({"version": 1, "ifname": "eth0", "objects": many}))
    done = hook(lab, dirs)
    assert addresses(lab) == {f"{LEASE}/24", "10.77.0.50/24"}  # declared: restored
    assert not path.exists() and path.with_name("eth0.json.bad").exists()
    [line] = [x for x in done.stderr.splitlines() if "snapshot" in x]
    assert "moved aside" in line


# -- 4. ownership survives a crash ----------------------------------------------------------


def first_change(monitor: subprocess.Popen[str], needle: str, timeout: float) -> bool:
    """Wait until ``ip monitor`` prints a line with ``needle``; False after ``timeout``."""
    assert monitor.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([monitor.stdout], [], [], 0.05)
        if ready and needle in monitor.stdout.readline():
            return True
    return False


def test_kill_9_during_an_apply_never_loses_what_nethook_owns(lab: VethNamespace,
                                                              dirs: NethookDirs) -> None:
    """20 applies of 1000 addresses, each killed with SIGKILL at a random moment after the
    kernel's first change (during the adds, or before the record is confirmed); after
    each, a prune with nothing declared leaves none of nethook's, every foreign one."""
    foreign = {"10.99.0.1/32", "10.99.0.2/32"}
    for address in foreign:
        lab.ns.ip("addr", "add", address, "dev", "eth0")
    many = "".join(f"      - 10.88.{i >> 8}.{i & 255}/32\n" for i in range(1000))
    declared = f"version: 1\ninterfaces:\n  eth0:\n    addresses:\n{many}"
    chance = random.Random(2026)
    argv = ["ip", "netns", "exec", lab.name, sys.executable, "-m", "nethook", "apply"]
    env = {"PATH": os.environ["PATH"], **dirs.env()}
    killed_midway = 0
    for round_ in range(20):
        dirs.write_config(declared)
        with subprocess.Popen(["ip", "-n", lab.name, "monitor", "address"], text=True,
                              stdout=subprocess.PIPE) as monitor:
            try:
                proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                assert first_change(monitor, "10.88.", 30.0), f"round {round_}: no change"
                time.sleep(chance.uniform(0.0, 0.03))
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            finally:
                monitor.kill()
        added = {a for a in addresses(lab) if a.startswith("10.88.")}
        killed_midway += 0 < len(added) < 1000 or proc.returncode == -signal.SIGKILL
        dirs.write_config("version: 1\n")
        pruned = dirs.command(lab.name, "apply", "--prune")
        assert pruned.returncode == 0, pruned.stderr
        left = {a for a in addresses(lab) if a.startswith("10.88.")}
        assert left == set(), f"round {round_}: {len(left)} of {len(added)} left behind"
        assert foreign <= addresses(lab)
    print(f"\n{killed_midway} of 20 applies were killed after the kernel's first change")
    assert killed_midway > 0  # the window between the kernel's change and the record was hit


# -- 7. the small ones ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../x", "a/b", "", "x" * 16])
def test_replay_of_an_invalid_interface_name_is_a_usage_error(
        lab: VethNamespace, dirs: NethookDirs, name: str) -> None:
    done = dirs.command(lab.name, "replay", name)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr


def test_a_corrupt_ownership_record_is_moved_aside_and_restores_go_on(
        lab: VethNamespace, dirs: NethookDirs) -> None:
    (dirs.state / "owned.json").write_text('{"version": 2, "objects": [')
    done = hook(lab, dirs)
    assert addresses(lab) == {f"{LEASE}/24", "10.77.0.50/24"}
    assert (dirs.state / "owned.json.bad").exists()
    assert json.loads((dirs.state / "owned.json").read_text())["objects"] == [
        {"kind": "address", "ifname": "eth0", "address": "10.77.0.50/24", "label": "eth0:0"}]
    [line] = [x for x in done.stderr.splitlines() if "owned.json" in x]
    assert "moved aside" in line


def test_a_snapshot_too_large_to_read_back_is_not_taken(lab: VethNamespace,
                                                         dirs: NethookDirs) -> None:
    batch = dirs.base / "aliases.batch"
    batch.write_text("".join(f"address add 10.{i >> 8 & 255}.{i & 255}.9/32 dev eth0\n"
                             for i in range(4100)))
    lab.ns.run(["ip", "-batch", str(batch)])
    done = dirs.command(lab.name, "snapshot", "eth0")
    assert done.returncode == 3
    assert "more than the 4096 a snapshot holds; not taken" in done.stderr
    assert not (dirs.run / "snapshot" / "eth0.json").exists()
