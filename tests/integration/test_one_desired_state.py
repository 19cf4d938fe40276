"""One desired state: every verb and entry point sees the same one, on a real kernel.

Pairs that must agree for the same kernel state and files: ``status`` and ``plan``,
``plan`` and a hook, ``plan --prune`` after ``replay``, the watcher and a hook. The first
test is the sequence that showed them disagreeing, kept as a regression test.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any, Dict, List, Set

import pytest

from lab.nethook_env import NethookDirs, temporary_dirs
from lab.netns import VethNamespace, lan_namespace
from lab.procs import poll_until
from lab.watcher import Watcher

pytestmark = pytest.mark.privileged

LEASE = "10.81.0.2"
CONFIG = """\
version: 1
interfaces:
  v0:
    addresses:
      - 10.81.0.60/24
"""
HAND_ALIAS = "10.81.0.50/24"
HAND_ROUTE = ("default", "via", "10.81.0.1", "table", "100")


@pytest.fixture
def lab() -> Iterator[VethNamespace]:
    with lan_namespace("nh1-", f"{LEASE}/24", "10.81.0.1/24", lifetime=3600,
                       ifname="v0", peer_ifname="p0") as veth:
        yield veth


@pytest.fixture
def dirs() -> Iterator[NethookDirs]:
    with temporary_dirs("nh1-", CONFIG) as made:
        yield made


def nethook(lab: VethNamespace, dirs: NethookDirs, *args: str,
            env: Dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return dirs.command(lab.name, *args, env=env)


def as_json(lab: VethNamespace, dirs: NethookDirs, *args: str) -> Any:
    return json.loads(nethook(lab, dirs, "--json", *args).stdout)


def missing_in_status(lab: VethNamespace, dirs: NethookDirs) -> Set[str]:
    status = as_json(lab, dirs, "status")
    return {row["object"] for rows in status["interfaces"].values() for row in rows
            if row["state"] != "present"}


def added_by_plan(lab: VethNamespace, dirs: NethookDirs, *args: str) -> List[str]:
    return [step["op"] for step in as_json(lab, dirs, "plan", *args)["plan"]]


def objects_of(ops: List[str]) -> Set[str]:
    """``ip -4 address add 10.81.0.50/24 dev v0 label v0:0`` -> the object's own words."""
    found = set()
    for op in ops:
        words = op.split()
        tail = " ".join(words[4:])
        found.add(tail.split(" proto ")[0].split(" protocol ")[0])
    return found


def hand_made_state(lab: VethNamespace, dirs: NethookDirs) -> None:
    """The issue's setup: nethook applied, an alias and a table route made by hand and
    snapshotted, then lost the way a lease change loses them."""
    lab.ns.ip("addr", "add", HAND_ALIAS, "dev", "v0", "label", "v0:0")
    lab.ns.ip("route", "add", *HAND_ROUTE)
    nethook(lab, dirs, "apply").check_returncode()
    nethook(lab, dirs, "snapshot", "v0").check_returncode()
    lab.ns.ip("addr", "del", HAND_ALIAS, "dev", "v0")
    lab.ns.ip("route", "flush", "table", "100")


def kernel_addresses(lab: VethNamespace) -> Set[str]:
    return {f"{a['local']}/{a['prefixlen']}"
            for link in lab.ns.ip_json("-4", "addr", "show", "dev", "v0")
            for a in link["addr_info"]}


def test_the_sequence_that_disagreed(lab: VethNamespace, dirs: NethookDirs) -> None:
    hand_made_state(lab, dirs)
    missing = missing_in_status(lab, dirs)
    assert missing == {f"{HAND_ALIAS} dev v0 label v0:0",
                       "default via 10.81.0.1 dev v0 scope global table 100"}
    # status and plan agree: plan adds exactly what status lists as missing
    assert objects_of(added_by_plan(lab, dirs)) == missing

    replayed = nethook(lab, dirs, "replay", "v0")
    assert replayed.returncode == 0, replayed.stderr
    assert HAND_ALIAS in kernel_addresses(lab)
    assert lab.ns.ip_json("route", "show", "table", "100")
    # what replay put back was the administrator's: prune never deletes it
    assert added_by_plan(lab, dirs, "--prune") == []
    pruned = nethook(lab, dirs, "apply", "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert HAND_ALIAS in kernel_addresses(lab)
    assert lab.ns.ip_json("route", "show", "table", "100")


def test_prune_removes_what_nethook_added_from_a_file_and_nothing_else(
        lab: VethNamespace, dirs: NethookDirs) -> None:
    hand_made_state(lab, dirs)
    nethook(lab, dirs, "apply").check_returncode()  # restores the snapshot: not nethook's
    lab.ns.ip("addr", "add", "10.81.0.99/24", "dev", "v0")  # foreign, declared nowhere
    dirs.write_config("version: 1\n")  # 10.81.0.60 is no longer declared
    assert added_by_plan(lab, dirs, "--prune") == ["ip -4 address del 10.81.0.60/24 dev v0"]
    nethook(lab, dirs, "apply", "--prune").check_returncode()
    assert kernel_addresses(lab) == {f"{LEASE}/24", HAND_ALIAS, "10.81.0.99/24"}
    assert lab.ns.ip_json("route", "show", "table", "100")


def test_a_hook_restores_exactly_what_plan_adds(lab: VethNamespace,
                                                dirs: NethookDirs) -> None:
    hand_made_state(lab, dirs)
    lab.ns.ip("addr", "del", "10.81.0.60/24", "dev", "v0")  # the declared one goes too
    planned = added_by_plan(lab, dirs)
    assert len(planned) == 3
    hook = nethook(lab, dirs, "hook", "dhclient-exit",
                   env={"reason": "RENEW", "interface": "v0", "new_ip_address": LEASE,
                        "new_subnet_mask": "255.255.255.0", "old_ip_address": LEASE,
                        "old_subnet_mask": "255.255.255.0"})
    assert hook.returncode == 0, hook.stderr
    [run] = [e for e in dirs.journal() if e["event"]["source"] == "dhclient"]
    assert run["plan"] == planned
    assert missing_in_status(lab, dirs) == set()


def test_the_watcher_keeps_what_status_and_a_hook_would(lab: VethNamespace,
                                                        dirs: NethookDirs) -> None:
    hand_made_state(lab, dirs)
    nethook(lab, dirs, "apply").check_returncode()
    # consumed now: take it again, so that the watcher and status see a pending snapshot
    nethook(lab, dirs, "snapshot", "v0").check_returncode()
    status = as_json(lab, dirs, "status")
    declared = {row["object"] for row in status["interfaces"]["v0"]}
    assert len(declared) == 3
    with Watcher(dirs, lab.name) as watcher:
        kept = as_json(lab, dirs, "status")["watcher"]
        assert kept["interfaces"] == {"v0": len(declared)}
        # what RHEL's dhclient-script does on a new address: flush, then add the lease
        lab.ns.ip("addr", "flush", "dev", "v0")
        lab.ns.ip("addr", "add", "10.81.0.3/24", "dev", "v0", "valid_lft", "3600",
                  "preferred_lft", "3600")
        assert poll_until(lambda: missing_in_status(lab, dirs) == set(), 10.0), \
            missing_in_status(lab, dirs)
        assert watcher.stop() == 0
    assert f"{LEASE}/24" not in kernel_addresses(lab)  # the old lease: never put back
