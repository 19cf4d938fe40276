"""`nethook doctor` against a real kernel, in a namespace of the test's own.

nethook runs as a separate process through `ip netns exec`, as test_cli_kernel.py runs
it, with `--root` a copy of a fixture tree from tests/fixtures/doctor/: the files are the
fixture's, the kernel state (addresses, routes, rules, per-namespace sysctls, MACs from the
namespace's sysfs, UDP sockets from its /proc/net) is what each test makes with `ip`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

from lab.netns import VethNamespace
from lab.procs import terminate
from lab.services_lab import Ntpd, require_tools, wait_for
from tests.integration.test_cli_kernel import COMMAND, SOURCE_PATH

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "doctor"
LEASE = ("valid_lft", "3600", "preferred_lft", "3600")  # what dhclient gives a lease


class Doctor:
    def __init__(self, lab: VethNamespace, tmp: Path, tree: str) -> None:
        self.lab = lab
        self.root = tmp / tree
        shutil.copytree(FIXTURES / tree, self.root, symlinks=True)
        self.state = tmp / "state"
        self.run_dir = tmp / "run"

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **SOURCE_PATH,
               "NETHOOK_ROOT": str(self.root), "NETHOOK_STATE_DIR": str(self.state),
               "NETHOOK_RUN_DIR": str(self.run_dir)}
        return subprocess.run(self.lab.ns.exec_argv([*COMMAND, "doctor", *args]), env=env,
                              capture_output=True, text=True, timeout=60)

    def json(self, *args: str, status: int) -> Dict[str, Any]:
        proc = self("--json", *args)
        assert proc.returncode == status, proc.stdout + proc.stderr
        data = json.loads(proc.stdout)
        assert isinstance(data, dict)
        return data


def codes(data: Dict[str, Any]) -> List[str]:
    return [f"{f['severity']} {f['code']}" for f in data["findings"]]


def one(data: Dict[str, Any], code: str) -> Dict[str, Any]:
    found = [f for f in data["findings"] if f["code"] == code]
    assert len(found) == 1, codes(data)
    return found[0]


def defaults(lab: VethNamespace) -> List[str]:
    return sorted(f"via {r['gateway']} src {r.get('prefsrc', '-')} metric {r.get('metric', 0)}"
                  for r in lab.ns.ip_json("-4", "route", "show", "default"))


@pytest.fixture
def lab(netns: VethNamespace) -> VethNamespace:
    netns.peer.ip("addr", "add", "10.77.0.1/24", "dev", netns.peer_ifname)
    netns.ns.sysctl("net.ipv4.conf.eth0.promote_secondaries", "0")
    netns.ns.ip("addr", "add", "10.77.0.10/24", "dev", "eth0", *LEASE)
    return netns


def shop(lab: VethNamespace) -> None:
    """The clean fixture's kernel side: the alias, the uplink table and its rule."""
    lab.ns.ip("addr", "add", "10.77.0.50/24", "dev", "eth0", "label", "eth0:0")
    lab.ns.ip("route", "add", "default", "via", "10.77.0.1", "dev", "eth0")
    lab.ns.ip("route", "add", "default", "via", "10.77.0.1", "dev", "eth0", "table", "100")
    lab.ns.ip("rule", "add", "from", "10.77.0.50", "table", "100", "priority", "1000")


def test_clean_server_exits_0(lab: VethNamespace, tmp_path: Path) -> None:
    shop(lab)
    doctor = Doctor(lab, tmp_path, "clean")
    data = doctor.json(status=0)
    assert codes(data) == ["info secondaries-at-risk"]
    assert data["could_not_run"] == []
    text = doctor()
    assert text.returncode == 0
    assert text.stdout.startswith("nethook doctor: nothing wrong found; 1 note(s) (9 checks")


def test_default_routes_differing_only_in_src(lab: VethNamespace, tmp_path: Path) -> None:
    shop(lab)
    lab.ns.ip("route", "del", "default", "via", "10.77.0.1", "dev", "eth0")
    lab.ns.ip("route", "add", "default", "via", "10.77.0.1", "dev", "eth0",
              "src", "10.77.0.10", "metric", "100")
    lab.ns.ip("route", "add", "default", "via", "10.77.0.1", "dev", "eth0",
              "src", "10.77.0.50", "metric", "200")
    doctor = Doctor(lab, tmp_path, "clean")
    found = one(doctor.json(status=1), "src-only")
    assert found["summary"] == "table main has 2 IPv4 default routes that differ only in src"
    assert [e["what"] for e in found["evidence"]] == [
        "default via 10.77.0.1 dev eth0 src 10.77.0.10 metric 100 table main",
        "default via 10.77.0.1 dev eth0 src 10.77.0.50 metric 200 table main"]
    assert found["fix_action"] == ("ip -4 route del default via 10.77.0.1 dev eth0 "
                                   "src 10.77.0.50 metric 200 table main")

    fixed = doctor.json("--fix", status=0)
    assert [(f["applied"], f["result"]) for f in fixed["fixes"]] == [(True, "deleted 1 route(s)")]
    assert defaults(lab) == ["via 10.77.0.1 src 10.77.0.10 metric 100"]  # the lease's own
    assert "src-only" not in codes(doctor.json(status=0))


def test_default_routes_sharing_a_metric_traced_to_the_alias_stanza(lab: VethNamespace,
                                                                    tmp_path: Path) -> None:
    lab.ns.ip("addr", "add", "198.51.100.7/24", "dev", "eth0", "label", "eth0:0")
    lab.ns.ip("addr", "add", "198.51.100.8/24", "dev", "eth0", "label", "eth0:1")
    lab.ns.ip("route", "add", "default", "via", "10.77.0.1", "dev", "eth0")  # dhclient's
    # what `ifup eth0:0` leaves with `gateway` in the stanza, beside the lease's own
    lab.ns.ip("route", "append", "default", "via", "198.51.100.1", "dev", "eth0", "onlink")
    doctor = Doctor(lab, tmp_path, "debian-gateway")
    before = sorted(p.relative_to(doctor.root).as_posix() for p in doctor.root.rglob("*"))
    found = one(doctor.json(status=1), "shared-metric")
    assert found["severity"] == "error"
    assert found["evidence"][-1] == {
        "where": f"{doctor.root}/etc/network/interfaces.d/customers:8",
        "what": "gateway 198.51.100.1 (alias eth0:0)"}
    assert found["fix_action"] == ("ip -4 route del default via 198.51.100.1 dev eth0 onlink "
                                   "table main")

    doctor.json("--fix", status=0)
    assert defaults(lab) == ["via 10.77.0.1 src - metric 0"]
    after = sorted(p.relative_to(doctor.root).as_posix() for p in doctor.root.rglob("*"))
    assert after == before  # the interfaces files are never edited
    assert "gateway 198.51.100.1" in (doctor.root / "etc/network/interfaces.d/customers"
                                      ).read_text()


def test_same_subnet_secondaries_with_promote_secondaries_0(lab: VethNamespace,
                                                            tmp_path: Path) -> None:
    shop(lab)
    lab.ns.ip("addr", "add", "10.77.0.60/24", "dev", "eth0", "label", "eth0:2")  # undeclared
    doctor = Doctor(lab, tmp_path, "clean")
    found = one(doctor.json(status=1), "secondaries-at-risk")
    assert found["severity"] == "warning"
    assert found["evidence"][:2] == [
        {"where": "/proc/sys/net/ipv4/conf/eth0/promote_secondaries", "what": "0"},
        {"where": "ip -4 address", "what": "10.77.0.10/24 dev eth0 (primary, dynamic: a lease)"}]
    assert found["fix"].startswith("declare 10.77.0.60 (eth0:2) ")

    # What the finding says the kernel does, in this namespace: the lease goes (a lease
    # change), and its secondaries go with it, and with the last IPv4 address every route
    # through eth0, table 100's too.
    lab.ns.ip("addr", "del", "10.77.0.10/24", "dev", "eth0")
    left = lab.ns.ip_json("-4", "addr", "show", "dev", "eth0")
    assert [a["local"] for link in left for a in link["addr_info"]] == []
    lab.ns.ip("addr", "add", "10.77.0.11/24", "dev", "eth0", *LEASE)  # the new lease
    lab.ns.ip("addr", "add", "10.77.0.50/24", "dev", "eth0", "label", "eth0:0")
    empty = one(doctor.json(status=1), "empty-table")  # the rule is left, its table empty
    assert empty["summary"] == "table 100 (uplink) is empty, and 1 rule(s) lead to it"
    assert empty["evidence"][0] == {"where": "ip -4 rule",
                                    "what": "1000: from 10.77.0.50 lookup uplink"}
    assert empty["fix"] == "`nethook apply` puts back the routes declared for it"

    lab.ns.ip("route", "add", "default", "via", "10.77.0.1", "dev", "eth0", "table", "100")
    lab.ns.sysctl("net.ipv4.conf.eth0.promote_secondaries", "1")  # per namespace only
    assert codes(doctor.json(status=0)) == []


def test_alias_that_became_primary_with_the_lease_as_secondary(lab: VethNamespace,
                                                               tmp_path: Path) -> None:
    shop(lab)
    lab.ns.sysctl("net.ipv4.conf.eth0.promote_secondaries", "1")
    # a lease change with promotion on (lab notes 5.3): the old lease goes, the alias is
    # promoted, the new lease comes in as a secondary
    lab.ns.ip("addr", "del", "10.77.0.10/24", "dev", "eth0")
    lab.ns.ip("addr", "add", "10.77.0.11/24", "dev", "eth0", *LEASE)
    doctor = Doctor(lab, tmp_path, "clean")
    found = one(doctor.json(status=1), "alias-primary")
    assert found["summary"] == ("eth0: alias 10.77.0.50 (eth0:0) is the primary of "
                                "10.77.0.0/24, and the DHCP lease 10.77.0.11 sits beside it as "
                                "a secondary")
    assert [e["what"] for e in found["evidence"]] == [
        "10.77.0.50/24 dev eth0 label eth0:0 (primary)",
        "10.77.0.11/24 dev eth0 (secondary, dynamic: a lease)",
        "10.77.0.0/24 dev eth0 proto kernel scope link src 10.77.0.50 table main"]
    route = lab.ns.ip_json("-4", "route", "show", "10.77.0.0/24")
    assert [r["prefsrc"] for r in route] == ["10.77.0.50"]  # what the evidence says


def test_mac_change_read_from_the_namespace_sysfs(lab: VethNamespace, tmp_path: Path) -> None:
    lab.ns.ip("link", "set", "eth0", "address", "00:15:5d:0a:0b:0c")
    doctor = Doctor(lab, tmp_path, "kudzu")
    found = one(doctor.json(status=1), "kudzu-rename")
    assert found["evidence"][0] == {"where": "ip link",
                                    "what": "eth0 link/ether 00:15:5d:0a:0b:0c"}


def test_ntpd_sockets_read_from_the_namespace(lab: VethNamespace, tmp_path: Path) -> None:
    """The real ntpd, and its own sockets: a stand-in holding port 123 would not do, since
    doctor asks the process ntpd's pidfile names (it looks at processes on the running
    system only, so this doctor runs with ``--root /`` and reads ntpd's ``-c`` file).

    ntpd started with ``interface ignore 10.77.0.51``, and the file has since been
    changed to ``listen``: doctor reads the file, ntpd still has the rules it started with.
    """
    require_tools("ntpd", "setpriv")
    lab.ns.ip("addr", "add", "10.77.0.50/24", "dev", "eth0", "label", "eth0:0")
    lab.ns.ip("addr", "add", "10.77.0.51/24", "dev", "eth0", "label", "eth0:1")
    ntpd = Ntpd(tmp_path / "ntpd")
    rules = ["interface listen 10.77.0.10", "interface listen 10.77.0.50",
             "interface listen 127.0.0.1"]
    ntpd.write_conf([*rules, "interface ignore 10.77.0.51"])
    proc = lab.ns.spawn(ntpd.argv())
    try:
        assert wait_for(lambda: "Listening on routing socket" in ntpd.log_text(), 10)
        ntpd.write_conf([*rules, "interface listen 10.77.0.51"])
        doctor = Doctor(lab, tmp_path, "clean")
        doctor.root = Path("/")
        data = json.loads(doctor("--json").stdout)
        assert [c for c in data["could_not_run"] if c["check"] == "ntpd"] == []
        found = one(data, "not-listening")
        assert found["summary"] == "ntpd is not listening on 10.77.0.51:123 (eth0:1)"
        assert found["evidence"][1] == {
            "where": "/proc/net/udp",
            "what": f"ntpd (pid {proc.pid}) has port 123 on 0.0.0.0, 10.77.0.10, 10.77.0.50, "
                    "127.0.0.1, ::, ::1"}
    finally:
        terminate(proc)


def test_kudzu_fix_stays_in_the_root_and_copies_only_checked_values(
        lab: VethNamespace, tmp_path: Path, canary: Path) -> None:
    """Issue 14's two attacks on `--fix`, through the real command: ROOT/etc/sysconfig a
    link out of the root, then a .bak whose values the shell would run."""
    lab.ns.ip("link", "set", "eth0", "address", "00:15:5d:0a:0b:0c")
    doctor = Doctor(lab, tmp_path, "kudzu")
    scripts = doctor.root / "etc/sysconfig/network-scripts"
    (scripts / "ifcfg-eth0.bak").write_text(
        "DEVICE=eth0\nHWADDR=00:15:5D:01:02:03\nBOOTPROTO=none\nIPADDR=192.0.2.10\n"
        f'PREFIX=24\nIPADDR1="10.92.0.78`touch {canary}/backtick`"\nPREFIX1=24\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (doctor.root / "etc/sysconfig").rename(elsewhere / "sysconfig")
    (doctor.root / "etc/sysconfig").symlink_to(elsewhere / "sysconfig")
    before = {p: p.read_bytes() for p in sorted(elsewhere.rglob("*")) if p.is_file()}

    refused = doctor.json("--fix", status=1)
    assert [(f["applied"], f["result"].split(":")[0]) for f in refused["fixes"]] == [
        (False, "refused")]
    assert {p: p.read_bytes() for p in sorted(elsewhere.rglob("*")) if p.is_file()} == before

    (doctor.root / "etc/sysconfig").unlink()
    (elsewhere / "sysconfig").rename(doctor.root / "etc/sysconfig")
    fixed = doctor.json("--fix", status=1)  # eth1's stale file is left to the administrator
    assert [f["applied"] for f in fixed["fixes"]] == [True]
    subprocess.run(["bash", "-c", '. "$1"', "bash", str(scripts / "ifcfg-eth0")], check=True,
                   timeout=10)
    assert sorted(p.name for p in canary.iterdir()) == []
    text = (scripts / "ifcfg-eth0").read_text()
    assert 'IPADDR="192.0.2.10"\nPREFIX="24"\n' in text and "IPADDR1" not in text
    assert "kudzu-rename" not in codes(doctor.json(status=1))
