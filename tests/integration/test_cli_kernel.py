"""`nethook status/plan/apply` run inside a fresh namespace, checked with `ip -j`.

Each test gets its own namespace with a veth pair (tests/netns.py), its own config,
state and run directories; nethook runs as a separate process through `ip netns exec`,
exactly as an administrator would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set

import pytest

from lab.netns import VethNamespace

SRC = Path(__file__).resolve().parents[2] / "src"
# NETHOOK_TEST_INSTALLED=1 (the package test, autopkgtest) runs the installed
# /usr/bin/nethook with the system's libraries instead of the source tree's.
INSTALLED = os.environ.get("NETHOOK_TEST_INSTALLED") == "1"
COMMAND = ["/usr/bin/nethook"] if INSTALLED else [sys.executable, "-m", "nethook"]
SOURCE_PATH = {} if INSTALLED else {"PYTHONPATH": str(SRC)}

CONFIG = """\
version: 1
interfaces:
  eth0:
    addresses:
      - address: 10.77.0.50/24
        label: "eth0:0"
      - 10.77.0.51/24
      - 2001:db8:77::50/64
    routes:
      - to: default
        via: 10.77.0.1
        table: mgmt
      - to: 10.99.0.0/24
        via: 10.77.0.1
        table: 1000
        metric: 10
    routing-policy:
      - from: 10.77.0.50
        table: mgmt
        priority: 1000
      - from: 10.77.0.51/32
        to: 192.0.2.0/24
        table: 1000
        priority: 1001
"""


class Nethook:
    """Runs the nethook command in the test's namespace with the test's directories."""

    def __init__(self, lab: VethNamespace, tmp: Path) -> None:
        self.lab = lab
        self.root = tmp / "root"
        self.config = self.root / "etc" / "nethook" / "nethook.yaml"
        self.state = tmp / "state"
        self.run_dir = tmp / "run"
        (self.root / "etc" / "iproute2").mkdir(parents=True)
        (self.root / "etc" / "iproute2" / "rt_tables").write_text("100\tmgmt\n")
        self.config.parent.mkdir(parents=True)

    def __call__(self, *args: str,
                 check_exit: int | None = None) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **SOURCE_PATH,
               "NETHOOK_ROOT": str(self.root), "NETHOOK_STATE_DIR": str(self.state),
               "NETHOOK_RUN_DIR": str(self.run_dir)}
        proc = subprocess.run(self.lab.ns.exec_argv([*COMMAND, *args]),
                              env=env, capture_output=True, text=True, timeout=60)
        if check_exit is not None:
            assert proc.returncode == check_exit, proc.stdout + proc.stderr
        return proc

    def json(self, *args: str) -> Dict[str, Any]:
        proc = self(*args, "--json")
        data = json.loads(proc.stdout)
        assert isinstance(data, dict)
        return data


@pytest.fixture
def lab(netns: VethNamespace) -> Iterator[VethNamespace]:
    netns.peer.ip("addr", "add", "10.77.0.1/24", "dev", netns.peer_ifname)
    netns.ns.ip("addr", "add", "10.77.0.10/24", "dev", "eth0")  # the "lease"
    yield netns


@pytest.fixture
def nethook(lab: VethNamespace, tmp_path: Path) -> Nethook:
    tool = Nethook(lab, tmp_path)
    tool.config.write_text(CONFIG)
    return tool


def addresses(lab: VethNamespace) -> Set[str]:
    found = set()
    for link in lab.ns.ip_json("addr", "show", "dev", "eth0"):
        for info in link["addr_info"]:
            if info.get("scope") == "global":
                found.add(f"{info['local']}/{info['prefixlen']} {info.get('label', '')}".strip())
    return found


def rules(lab: VethNamespace) -> Set[str]:
    return {f"{r['priority']} {r.get('src', 'all')} {r['table']}"
            for r in lab.ns.ip_json("-4", "rule", "show") if r["priority"] in (1000, 1001)}


def routes(lab: VethNamespace, table: str) -> List[Dict[str, Any]]:
    data = lab.ns.ip_json("-4", "route", "show", "table", table)
    return data if isinstance(data, list) else []


DECLARED_ADDRESSES = {"10.77.0.10/24 eth0", "10.77.0.50/24 eth0:0", "10.77.0.51/24 eth0",
                      "2001:db8:77::50/64"}


def test_apply_restores_what_a_lease_change_destroyed(lab: VethNamespace,
                                                      nethook: Nethook) -> None:
    nethook("apply", check_exit=0)
    assert addresses(lab) == DECLARED_ADDRESSES
    # What a lease change does: the primary goes, the kernel takes its secondaries and,
    # with no IPv4 address left, every IPv4 route through eth0 in every table.
    lab.ns.ip("-4", "addr", "flush", "dev", "eth0", "label", "eth0")
    assert routes(lab, "100") == [] and routes(lab, "1000") == []
    lab.ns.ip("addr", "add", "10.77.0.11/24", "dev", "eth0")
    lab.ns.ip("rule", "del", "priority", "1001")

    status = nethook.json("status")
    assert status["missing"] == 5
    nethook("status", check_exit=1)
    plan = nethook("plan", check_exit=1).stdout
    assert "ip -4 address add 10.77.0.50/24 dev eth0 label eth0:0" in plan

    result = nethook.json("apply")
    assert result["exit"] == 0 and result["missing"] == 0
    assert addresses(lab) == DECLARED_ADDRESSES - {"10.77.0.10/24 eth0"} | {"10.77.0.11/24 eth0"}
    assert rules(lab) == {"1000 10.77.0.50 100", "1001 10.77.0.51 1000"}
    # `ip` names protocol 177 once the package's rt_protos.d/nethook.conf is installed.
    assert [(r["dst"], r["gateway"], r["protocol"]) for r in routes(lab, "100")] in (
        [("default", "10.77.0.1", "177")], [("default", "10.77.0.1", "nethook")])
    assert [(r["dst"], r["metric"]) for r in routes(lab, "1000")] == [("10.99.0.0/24", 10)]
    assert nethook.json("status")["missing"] == 0


def test_second_apply_changes_nothing(lab: VethNamespace, nethook: Nethook) -> None:
    nethook("apply", check_exit=0)
    before = (addresses(lab), rules(lab), routes(lab, "100"), routes(lab, "1000"))
    second = nethook.json("apply")
    assert second["plan"] == [] and second["results"] == [] and second["exit"] == 0
    assert (addresses(lab), rules(lab), routes(lab, "100"), routes(lab, "1000")) == before
    nethook("plan", check_exit=0)


def test_prune_removes_only_what_nethook_added(lab: VethNamespace, nethook: Nethook) -> None:
    lab.ns.ip("addr", "add", "10.77.0.60/24", "dev", "eth0", "label", "eth0:9")  # by hand
    lab.ns.ip("addr", "add", "10.77.0.51/24", "dev", "eth0")  # declared, but not ours
    nethook("apply", check_exit=0)
    nethook.config.write_text("version: 1\n")  # nothing declared any more

    plain = nethook.json("apply")
    assert plain["plan"] == []  # without --prune, nothing is ever removed
    nethook("apply", "--prune", check_exit=0)
    assert addresses(lab) == {"10.77.0.10/24 eth0", "10.77.0.60/24 eth0:9",
                              "10.77.0.51/24 eth0"}
    assert rules(lab) == set()
    assert routes(lab, "100") == [] and routes(lab, "1000") == []
    owned = json.loads((nethook.state / "owned.json").read_text())
    assert owned["objects"] == []


def test_missing_interface_is_reported_not_fatal(lab: VethNamespace, nethook: Nethook) -> None:
    nethook.config.write_text(CONFIG + """\
  eth9:
    addresses:
      - 10.88.0.5/24
""")
    proc = nethook("apply", "--json")
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert result["skipped"] == [{"object": "10.88.0.5/24 dev eth9",
                                  "reason": "interface eth9 does not exist"}]
    assert "10.77.0.50/24 eth0:0" in addresses(lab)  # eth0 was still handled
    assert "cannot restore 10.88.0.5/24 dev eth9: interface eth9 does not exist" in proc.stderr


def test_invalid_config_exits_2_and_applies_nothing(lab: VethNamespace,
                                                    nethook: Nethook) -> None:
    nethook.config.write_text(CONFIG.replace("10.77.0.51/24", "10.77.0.300/24"))
    proc = nethook("apply", check_exit=2)
    assert "nethook.yaml:7: interfaces.eth0.addresses[1]" in proc.stderr
    assert "'10.77.0.300/24'" in proc.stderr
    assert addresses(lab) == {"10.77.0.10/24 eth0"}
    assert not (nethook.state / "journal.jsonl").exists()


def test_kernel_refusal_is_reported_with_its_reason(lab: VethNamespace,
                                                    nethook: Nethook) -> None:
    nethook.config.write_text("""\
version: 1
interfaces:
  eth0:
    addresses: [10.77.0.50/24]
    routes:
      - {to: 10.98.0.0/24, via: 10.55.0.1, table: 1000}
""")
    result = nethook.json("apply")
    assert result["exit"] == 1
    failed = [r for r in result["results"] if r["status"] == "failed"]
    assert [r["error"] for r in failed] == ["Nexthop has invalid gateway (ENETUNREACH)"]
    assert "10.77.0.50/24 eth0" in addresses(lab)  # one refusal does not stop the rest


def test_concurrent_applies_leave_a_consistent_state(lab: VethNamespace,
                                                     nethook: Nethook) -> None:
    env_argv = [*COMMAND, "apply", "--json"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **SOURCE_PATH,
           "NETHOOK_ROOT": str(nethook.root), "NETHOOK_STATE_DIR": str(nethook.state),
           "NETHOOK_RUN_DIR": str(nethook.run_dir)}
    procs = [subprocess.Popen(lab.ns.exec_argv(env_argv), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    outputs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(o["exit"] == 0 for o in outputs)
    # The lock serialises the runs: exactly one run added each object, the rest saw it.
    applied = [r["op"] for o in outputs for r in o["results"] if r["status"] == "applied"]
    assert sorted(applied) == sorted(set(applied)) and len(applied) == 7
    assert addresses(lab) == DECLARED_ADDRESSES
    lines = (nethook.state / "journal.jsonl").read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(line)["exit"] == 0 for line in lines)


def test_status_shows_the_last_event_and_snapshot_objects(lab: VethNamespace,
                                                          nethook: Nethook) -> None:
    nethook("apply", "eth0", check_exit=0)
    lab.ns.ip("addr", "add", "10.77.0.70/24", "dev", "eth0", "label", "eth0:7")  # by hand
    nethook("snapshot", "eth0", check_exit=0)
    text = nethook("status", "eth0", check_exit=0).stdout
    assert "last event: snapshot from cli at " in text
    assert "present  address 10.77.0.70/24 dev eth0 label eth0:7  # snapshot snapshot" in text
    lab.ns.ip("addr", "del", "10.77.0.70/24", "dev", "eth0")
    status = nethook.json("status", "eth0")
    assert status["missing"] == 1
    # The 2 permanent addresses nethook did not add (this lab's "lease" was added without a
    # lifetime, so it counts too); what `apply` added is its own and stays out.
    assert status["last_events"]["eth0"]["action"] == "snapshot of 2 object(s)"
