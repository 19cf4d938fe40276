"""Distro files imported, state broken with ``ip``, ``nethook apply --root FIXTURE`` restores.

The trees under tests/fixtures/importers/netns are the fixture servers' files with the
interface names and addresses adapted to the namespace (eth0 on 10.77.0.0/24, the peer
on 10.77.0.1): an ifcfg server, a Debian server and a netplan server that declare the
same state. Nothing but those files is configured: no nethook.yaml, ``import: auto``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set

import pytest

from lab.netns import VethNamespace

pytestmark = pytest.mark.privileged

SRC = Path(__file__).resolve().parents[2] / "src"
TREES = Path(__file__).resolve().parents[1] / "fixtures" / "importers" / "netns"
LEASE = "10.77.0.10/24"
NEW_LEASE = "10.77.0.11/24"
IMPORTED = {"10.78.0.5/24 eth0", "10.77.0.50/24 eth0:0", "10.77.0.60/24 eth0:10",
            "10.77.0.61/24 eth0:11", "10.77.0.62/24 eth0:12", "10.77.0.63/24 eth0:13"}
RULES = {"1000 10.77.0.50 all 100", "1001 10.77.0.60 192.0.2.0 1000"}


class Nethook:
    def __init__(self, lab: VethNamespace, root: Path, tmp: Path) -> None:
        self.lab = lab
        self.root = root
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(SRC),
                    "NETHOOK_STATE_DIR": str(tmp / "state"), "NETHOOK_RUN_DIR": str(tmp / "run")}

    def __call__(self, *args: str, check_exit: int) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "nethook", *args, "--root", str(self.root)]
        proc = subprocess.run(self.lab.ns.exec_argv(argv), env=self.env, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == check_exit, proc.stdout + proc.stderr
        return proc


@pytest.fixture
def lab(netns: VethNamespace) -> Iterator[VethNamespace]:
    netns.peer.ip("addr", "add", "10.77.0.1/24", "dev", netns.peer_ifname)
    netns.ns.ip("addr", "add", LEASE, "dev", "eth0")
    yield netns


def addresses(lab: VethNamespace) -> Set[str]:
    return {f"{a['local']}/{a['prefixlen']} {a.get('label', '')}".strip()
            for link in lab.ns.ip_json("-4", "addr", "show", "dev", "eth0")
            for a in link["addr_info"] if a.get("scope") == "global"}


def rules(lab: VethNamespace) -> Set[str]:
    return {f"{r['priority']} {r.get('src', 'all')} {r.get('dst', 'all')} {r['table']}"
            for r in lab.ns.ip_json("-4", "rule", "show") if r["priority"] in (1000, 1001)}


def routes(lab: VethNamespace, table: str) -> List[Dict[str, Any]]:
    data = lab.ns.ip_json("-4", "route", "show", "table", table)
    return [{k: r.get(k) for k in ("dst", "gateway", "dev", "metric")}
            for r in (data if isinstance(data, list) else [])]


def assert_restored(lab: VethNamespace, lease: str) -> None:
    assert addresses(lab) == {f"{lease} eth0"} | IMPORTED
    assert rules(lab) == RULES
    assert routes(lab, "100") == [
        {"dst": "default", "gateway": "10.77.0.1", "dev": "eth0", "metric": None}]
    assert routes(lab, "1000") == [
        {"dst": "10.99.0.0/24", "gateway": "10.77.0.1", "dev": "eth0", "metric": 10}]


@pytest.mark.parametrize("tree", ["centos", "debian", "netplan"])
def test_apply_restores_what_the_distro_files_declare(lab: VethNamespace, tmp_path: Path,
                                                      tree: str) -> None:
    nethook = Nethook(lab, TREES / tree, tmp_path)
    imported = nethook("import", check_exit=0).stdout
    assert "label: \"eth0:10\"" in imported and "table: mgmt" in imported

    nethook("apply", check_exit=0)
    assert_restored(lab, LEASE)

    # A lease change: the primary goes, and with promote_secondaries off the kernel takes
    # the same-subnet aliases with it, then (no IPv4 address left) every IPv4 route
    # through eth0; a rule is deleted by hand on top.
    lab.ns.ip("-4", "addr", "flush", "dev", "eth0")
    lab.ns.ip("addr", "add", NEW_LEASE, "dev", "eth0")
    lab.ns.ip("rule", "del", "priority", "1001")
    assert addresses(lab) == {f"{NEW_LEASE} eth0"}
    assert routes(lab, "100") == [] and routes(lab, "1000") == []

    status = json.loads(nethook("status", "--json", check_exit=1).stdout)
    origins = {item["origin"].split("/")[-1] for items in status["interfaces"].values()
               for item in items if item["state"] == "missing"}
    files = {p.name for p in (TREES / tree).rglob("*") if p.is_file()}
    assert origins and {o.rsplit(":", 1)[0] for o in origins} <= files
    nethook("apply", check_exit=0)
    assert_restored(lab, NEW_LEASE)
    nethook("plan", check_exit=0)  # converged: nothing left to do
