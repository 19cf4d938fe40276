"""Every check of `nethook doctor` on the fixture trees of tests/fixtures/doctor/.

Each tree is a server's files as its administrators left them; beside it here is the
live state that goes with it (a `FakeLive`). The whole report of each tree is compared
with tests/fixtures/doctor/expected/TREE.json (its `--json` form), and the tests below
spell out, per check, the findings that matter: code, severity, text and evidence.

Regenerate the expected reports after a deliberate change with
`NETHOOK_DOCTOR_REGEN=1 pytest tests/unit/test_doctor_checks.py`, and read the diff.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List

import pytest

from nethook.base.context import RunContext
from nethook.doctor.inputs import Owner
from nethook.doctor.run import main
from tests.unit.test_doctor_live import (
    FakeDaemons,
    FakeKernel,
    FakeLive,
    address,
    kernel,
    lan,
    route,
    rule,
    static_lan,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "doctor"
EXPECTED = FIXTURES / "expected"
NOW = datetime(2026, 11, 21, 9, 12, tzinfo=timezone.utc)
ME = Owner(os.getuid(), os.getgid())  # the fixture files are the test runner's
NTP = 123
SHOP = address("eth0", "10.77.0.50/24", "eth0:0")


def ntpd_on(*addresses: str) -> FakeDaemons:
    """ntpd (pid 100, no -c: the tree's own ntp.conf) with its sockets on port 123."""
    return FakeDaemons().add("ntpd", 100, ["/usr/sbin/ntpd", "-g"],
                             [("udp", a, NTP) for a in addresses])


def live_of(tree: str) -> FakeLive:
    return LIVES[tree]()


LIVES = {
    "clean": lambda: FakeLive(
        lan(aliases=[SHOP], routes=[route("0.0.0.0/0", via="10.77.0.1", table=100)],
            rules=[rule("10.77.0.50/32", 100, 1000)]),
        macs={"eth0": "52:54:00:12:34:56"},
        daemon_state=ntpd_on("0.0.0.0", "127.0.0.1", "10.77.0.10", "10.77.0.50")),
    "debian-gateway": lambda: FakeLive(
        lan(aliases=[address("eth0", "198.51.100.7/24", "eth0:0"),
                     address("eth0", "198.51.100.8/24", "eth0:1")],
            routes=[route("198.51.100.0/24", src="198.51.100.7"),
                    route("0.0.0.0/0", via="198.51.100.1")]),
        macs={"eth0": "52:54:00:12:34:56"}),
    "centos-gateway": lambda: FakeLive(
        kernel(addresses=[address("eth0", "192.0.2.10/24"),
                          address("eth0", "203.0.113.20/24", "eth0:1")],
               routes=[route("192.0.2.0/24", src="192.0.2.10"),
                       route("203.0.113.0/24", src="203.0.113.20"),
                       route("0.0.0.0/0", via="192.0.2.1")]),
        macs={"eth0": "52:54:00:12:34:56"}),
    "kudzu": lambda: FakeLive(lan(lease="172.16.0.50/24"), macs={"eth0": "00:15:5d:0a:0b:0c"}),
    "policy": lambda: FakeLive(
        kernel(links=("lo", "eth0", "eth1"),
               addresses=[address("eth0", "192.0.2.50/24", "eth0:0"),
                          address("eth1", "10.20.0.5/24")],
               leases=[address("eth0", "192.0.2.20/24")],
               routes=[route("192.0.2.0/24", src="192.0.2.20"),
                       route("0.0.0.0/0", via="192.0.2.1"),
                       route("10.20.0.0/24", dev="eth1", src="10.20.0.5"),
                       route("10.20.0.0/24", dev="eth1", table=200),
                       route("0.0.0.0/0", via="10.20.0.1", dev="eth1", table=200)],
               rules=[rule("192.0.2.50/32", 250, 500), rule("10.20.0.6/32", 200, 601)]),
        macs={"eth0": "52:54:00:12:34:56", "eth1": "52:54:00:12:34:57"}),
    "aliases": lambda: FakeLive(
        kernel(links=("lo", "eth0", "eth1"),
               addresses=[SHOP, address("eth0", "10.77.0.60/24", "eth0:2"),
                          address("eth1", "10.88.0.50/24", "eth1:0")],
               leases=[address("eth0", "10.77.0.10/24"), address("eth1", "10.88.0.20/24")],
               routes=[route("10.77.0.0/24", src="10.77.0.10"),
                       route("0.0.0.0/0", via="10.77.0.1"),
                       route("10.88.0.0/24", dev="eth1", src="10.88.0.50")]),
        macs={"eth0": "52:54:00:12:34:56", "eth1": "52:54:00:12:34:57"}),
    "noping": lambda: FakeLive(lan(), macs={"eth0": "52:54:00:12:34:56"}),
    "ntpd": lambda: FakeLive(
        static_lan(aliases=[SHOP, address("eth0", "10.77.0.51/24", "eth0:1")]),
        daemon_state=ntpd_on("127.0.0.1", "10.77.0.10", "::1")),
    "ntpd-classic": lambda: FakeLive(
        static_lan(aliases=[SHOP]),
        daemon_state=ntpd_on("0.0.0.0", "127.0.0.1", "10.77.0.10", "10.77.0.50")),
    "xinetd": lambda: FakeLive(static_lan(aliases=[SHOP])),
    "hooks": lambda: FakeLive(lan(), macs={"eth0": "52:54:00:12:34:56"}),
    "self": lambda: FakeLive(static_lan(aliases=[SHOP])),
}


def doctor(tree: str, tmp_path: Path, *, live: FakeLive | None = None, root: Path | None = None,
           fix: bool = False, as_json: bool = True, state_dir: Path | None = None,
           kernel: FakeKernel | None = None, out: io.StringIO | None = None,
           config: Path | None = None) -> tuple[int, str]:
    """One run of `nethook doctor` on a tree; its fixes change ``kernel`` (default: a fake
    one over ``live``)."""
    ctx = RunContext(root=root or Path(tree), config=config,
                     state_dir=state_dir or tmp_path / "state", run_dir=tmp_path / "run")
    out = out or io.StringIO()
    live = live or live_of(tree)
    kernel = kernel or FakeKernel(live)
    code = main(ctx, fix=fix, as_json=as_json, live=live, owner=ME, now=NOW, out=out,
                open_netlink=kernel.open)
    return code, out.getvalue()


def copy_tree(tree: str, tmp_path: Path) -> Path:
    """A copy of a fixture tree to change (links kept as links)."""
    root = tmp_path / tree
    shutil.copytree(FIXTURES / tree, root, symlinks=True)
    return root


def report(tree: str, tmp_path: Path, **kwargs: Any) -> Dict[str, Any]:
    code, out = doctor(tree, tmp_path, **kwargs)
    data = json.loads(out)
    assert data["exit"] == code
    return data


def findings(data: Dict[str, Any], code: str) -> List[Dict[str, Any]]:
    return [f for f in data["findings"] if f["code"] == code]


def one(data: Dict[str, Any], code: str) -> Dict[str, Any]:
    found = findings(data, code)
    assert len(found) == 1, [f["code"] for f in data["findings"]]
    return found[0]


def evidence(finding: Dict[str, Any]) -> List[str]:
    return [f"{e['where']}: {e['what']}" for e in finding["evidence"]]


@pytest.fixture(autouse=True)
def in_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Roots are given relative to the fixture directory, so paths in reports are short."""
    monkeypatch.chdir(FIXTURES)


@pytest.mark.parametrize("tree", sorted(LIVES))
def test_the_whole_report_of_each_tree(tree: str, tmp_path: Path) -> None:
    data = report(tree, tmp_path)
    expected = EXPECTED / f"{tree}.json"
    if os.environ.get("NETHOOK_DOCTOR_REGEN") == "1":
        expected.parent.mkdir(exist_ok=True)
        expected.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    assert data == json.loads(expected.read_text())


def test_json_shape(tmp_path: Path) -> None:
    data = report("debian-gateway", tmp_path)
    assert set(data) == {"root", "checks", "counts", "could_not_run", "findings", "exit"}
    assert data["checks"] == ["default-routes", "mac", "policy", "aliases", "dhclient", "ntpd",
                              "xinetd", "hooks", "nethook"]
    assert data["counts"] == {"error": 1, "warning": 0, "info": 1}
    for finding in data["findings"]:
        assert set(finding) == {"check", "code", "severity", "summary", "evidence", "why",
                                "fix", "fix_action"}
        assert finding["severity"] in ("error", "warning", "info")
        assert finding["evidence"] and all(set(e) == {"where", "what"}
                                           for e in finding["evidence"])
        assert finding["why"].count(". ") == 0  # one sentence


# -- 1. default routes ------------------------------------------------------------------------

def test_default_routes_sharing_a_metric_traced_to_an_alias_stanza(tmp_path: Path) -> None:
    data = report("debian-gateway", tmp_path)
    assert data["exit"] == 1
    found = one(data, "shared-metric")
    assert found["severity"] == "error"
    assert found["summary"] == "table main has 2 IPv4 default routes that share a metric"
    assert evidence(found) == [
        "ip -4 route: default via 10.77.0.1 dev eth0 table main",
        "ip -4 route: default via 198.51.100.1 dev eth0 table main",
        "debian-gateway/etc/network/interfaces.d/customers:8: gateway 198.51.100.1 "
        "(alias eth0:0)"]
    assert "outbound traffic changes source address at random" in found["why"]
    assert ("delete line 8 of debian-gateway/etc/network/interfaces.d/customers "
            "(`gateway 198.51.100.1`)") in found["fix"]
    assert found["fix_action"] == "ip -4 route del default via 198.51.100.1 dev eth0 table main"
    assert not findings(data, "alias-gateway")  # explained by the duplicate, not again


def test_default_routes_differing_only_in_src(tmp_path: Path) -> None:
    live = FakeLive(lan(aliases=[SHOP], routes=[
        route("0.0.0.0/0", via="10.77.0.1", src="10.77.0.50", metric=100),
        route("0.0.0.0/0", via="10.77.0.1", src="10.77.0.10", metric=50)]),
        macs={"eth0": "52:54:00:12:34:56"})
    found = one(report("clean", tmp_path, live=live), "src-only")
    assert found["severity"] == "warning"
    assert found["summary"] == "table main has 3 IPv4 default routes that differ only in src"
    # the lease's own (src 10.77.0.10) and the one without src are both keepers: no --fix
    assert found["fix_action"] is None
    assert "choose which" in found["fix"]


def test_a_failover_default_route_is_not_a_duplicate(tmp_path: Path) -> None:
    live = FakeLive(lan(aliases=[SHOP], routes=[
        route("0.0.0.0/0", via="10.77.0.254", metric=100)]),
        macs={"eth0": "52:54:00:12:34:56"})
    assert not [f for f in report("clean", tmp_path, live=live)["findings"]
                if f["check"] == "default-routes"]


def test_alias_file_with_gateway_on_its_own(tmp_path: Path) -> None:
    found = one(report("centos-gateway", tmp_path), "alias-gateway")
    assert found["severity"] == "warning"
    assert found["summary"] == "alias eth0:1 has a gateway of its own"
    assert evidence(found) == ['centos-gateway/etc/sysconfig/network-scripts/ifcfg-eth0:1:5: '
                               'GATEWAY=203.0.113.1 (alias eth0:1)']
    assert found["fix"].startswith("delete line 5 of centos-gateway/etc/sysconfig/"
                                   "network-scripts/ifcfg-eth0:1 (`GATEWAY=203.0.113.1`)")


# -- 2. MAC changes -----------------------------------------------------------------------------

def test_kudzu_rename_after_a_mac_change(tmp_path: Path) -> None:
    data = report("kudzu", tmp_path)
    found = one(data, "kudzu-rename")
    assert found["severity"] == "error"
    assert found["summary"] == ("eth0's MAC changed and ifcfg-eth0 lost the static addressing "
                                "ifcfg-eth0.bak still has")
    where = "kudzu/etc/sysconfig/network-scripts/"
    assert evidence(found) == [
        "ip link: eth0 link/ether 00:15:5d:0a:0b:0c",
        f"{where}ifcfg-eth0.bak:3: BOOTPROTO=none",
        f"{where}ifcfg-eth0.bak:4: HWADDR=00:15:5D:01:02:03",
        f"{where}ifcfg-eth0.bak:6: IPADDR=192.0.2.10",
        f"{where}ifcfg-eth0.bak:7: NETMASK=255.255.255.0",
        f"{where}ifcfg-eth0.bak:8: GATEWAY=192.0.2.1",
        f"{where}ifcfg-eth0:4: HWADDR=00:15:5d:0a:0b:0c"]
    assert found["fix_action"] == (
        f"rewrite {where}ifcfg-eth0: add BOOTPROTO, IPADDR, NETMASK, GATEWAY from "
        "ifcfg-eth0.bak, keep HWADDR=00:15:5d:0a:0b:0c (a copy of the old file is kept beside "
        "it)")


def test_hwaddr_and_udev_rule_for_a_card_that_is_gone(tmp_path: Path) -> None:
    data = report("kudzu", tmp_path)
    stale = one(data, "hwaddr-unknown")
    assert stale["summary"] == "ifcfg-eth1 is for HWADDR 52:54:00:AA:BB:CC, which no device has"
    assert "Device eth1 has different MAC address than expected" in stale["why"]
    pinned = one(data, "udev-pin")
    assert pinned["summary"] == ("udev keeps the name eth1 for 52:54:00:aa:bb:cc, which no "
                                 "device has")
    assert evidence(pinned)[0].startswith("kudzu/etc/udev/rules.d/70-persistent-net.rules:8: ")
    assert evidence(pinned)[1] == "ip link: eth0 00:15:5d:0a:0b:0c"


def test_two_old_copies_are_ambiguous(tmp_path: Path) -> None:
    root = copy_tree("kudzu", tmp_path)
    scripts = root / "etc/sysconfig/network-scripts"
    shutil.copy(scripts / "ifcfg-eth0.bak", scripts / "ifcfg-eth0.old")
    found = one(report("kudzu", tmp_path, root=root), "kudzu-rename")
    assert found["fix_action"] is None
    assert "2 old copies qualify (ifcfg-eth0.bak, ifcfg-eth0.old)" in found["fix"]


# -- 3. policy routing --------------------------------------------------------------------------

def test_policy_routing_files_that_do_not_hold_together(tmp_path: Path) -> None:
    data = report("policy", tmp_path)
    twice = one(data, "table-name-twice")
    assert twice["summary"] == "table name 'mgmt' is defined with 2 ids"
    assert evidence(twice) == ["policy/etc/iproute2/rt_tables:12: 100 mgmt",
                               "policy/etc/iproute2/rt_tables.d/isp2.conf:2: 101 mgmt"]
    shared = one(data, "table-id-twice")
    assert shared["summary"] == "table 200 has 2 names: 'storage', 'backup'"
    reserved = one(data, "table-id-reserved")
    assert reserved["summary"] == "table name 'dmz' uses the reserved id 255 (local)"
    assert "looked up before every policy rule" in reserved["why"]
    unknown = one(data, "table-unknown")
    assert unknown["severity"] == "error"
    assert unknown["summary"] == ("rule-eth1 names table 'stor', which no rt_tables file "
                                  "defines (did you mean 'storage'?)")
    assert evidence(unknown) == ["policy/etc/sysconfig/network-scripts/rule-eth1:1: "
                                 "from 10.20.0.5 table stor priority 600"]
    assert unknown["fix"].startswith("add `102 stor` to policy/etc/iproute2/rt_tables")


def test_rule_without_routes_declared_and_empty_live(tmp_path: Path) -> None:
    data = report("policy", tmp_path)
    declared = one(data, "rule-without-routes")
    assert declared["summary"] == ("rule `500: from 192.0.2.50 lookup vpn` leads to table 250 "
                                   "(vpn), where nothing declares a route")
    assert evidence(declared) == ["policy/etc/sysconfig/network-scripts/rule-eth0:2: "
                                  "500: from 192.0.2.50 lookup vpn"]
    empty = one(data, "empty-table")
    assert empty["summary"] == "table 250 (vpn) is empty, and 1 rule(s) lead to it"
    assert evidence(empty) == ["ip -4 rule: 500: from 192.0.2.50 lookup vpn"]
    assert "falls through to the main table" in empty["why"]


# -- 4. aliases ---------------------------------------------------------------------------------

def test_alias_at_risk_with_dhcp_and_promote_secondaries_0(tmp_path: Path) -> None:
    found = one(report("aliases", tmp_path), "secondaries-at-risk")
    assert found["severity"] == "warning"
    assert found["summary"] == ("eth0: 2 address(es) share 10.77.0.0/24 with the DHCP lease "
                                "and promote_secondaries is 0")
    assert evidence(found) == [
        "/proc/sys/net/ipv4/conf/eth0/promote_secondaries: 0",
        "ip -4 address: 10.77.0.10/24 dev eth0 (primary, dynamic: a lease)",
        "ip -4 address: 10.77.0.50/24 dev eth0 label eth0:0 (secondary)",
        "ip -4 address: 10.77.0.60/24 dev eth0 label eth0:2 (secondary)"]
    assert found["why"] == (
        "when dhclient-script deletes the lease address (every lease change, EXPIRE, "
        "RELEASE), the kernel deletes every secondary of 10.77.0.0/24 with it: "
        "10.77.0.50 (eth0:0), 10.77.0.60 (eth0:2)")
    assert found["fix"].startswith("declare 10.77.0.60 (eth0:2) ")
    assert ("promote_secondaries=1 keeps them instead, at a cost, measured: when the lease "
            "address goes, the kernel promotes the alias to primary, the new lease becomes a "
            "secondary, and the subnet route's source address becomes the alias") in found["fix"]


def test_declared_aliases_at_risk_are_only_a_note(tmp_path: Path) -> None:
    data = report("clean", tmp_path)
    found = one(data, "secondaries-at-risk")
    assert found["severity"] == "info"
    assert found["fix"].startswith("nothing to do: nethook restores them once the new lease "
                                   "is up (declared at clean/etc/network/interfaces.d/shop:4)")


def test_declared_but_absent_and_no_such_link(tmp_path: Path) -> None:
    data = report("aliases", tmp_path)
    absent = one(data, "declared-absent")
    assert absent["summary"] == "eth0: 1 declared address(es) are not there"
    assert evidence(absent) == ["aliases/etc/nethook/nethook.yaml:7: 10.77.0.51/24 dev eth0 "
                                "label eth0:1"]
    assert one(data, "declared-no-link")["severity"] == "info"


def test_alias_that_took_the_primary_from_the_lease(tmp_path: Path) -> None:
    found = one(report("aliases", tmp_path), "alias-primary")
    assert found["severity"] == "warning"
    assert found["summary"] == ("eth1: alias 10.88.0.50 (eth1:0) is the primary of "
                                "10.88.0.0/24, and the DHCP lease 10.88.0.20 sits beside it as "
                                "a secondary")
    assert evidence(found) == [
        "ip -4 address: 10.88.0.50/24 dev eth1 label eth1:0 (primary)",
        "ip -4 address: 10.88.0.20/24 dev eth1 (secondary, dynamic: a lease)",
        "ip -4 route: 10.88.0.0/24 dev eth1 proto kernel scope link src 10.88.0.50 table main"]
    assert "sysctl -w net.ipv4.conf.eth1.promote_secondaries=1" in found["fix"]


# -- 5. dhclient without ping -------------------------------------------------------------------

def test_dhclient_without_ping(tmp_path: Path) -> None:
    found = one(report("noping", tmp_path), "no-ping")
    assert found["severity"] == "warning"
    assert evidence(found) == [
        'noping/sbin/dhclient-script:56: if [ -z "$new_routers" ] || ping -q -c 1 -w 10 '
        '"${new_routers%% *}"; then',
        "noping: no executable ping in /bin, /usr/bin, /sbin, /usr/sbin",
        "in use: DHCP configured for eth0"]
    assert "flushes every IPv4 address of the interface, aliases included" in found["why"]
    assert "iputils-ping" in found["fix"]


# -- 6. ntpd -----------------------------------------------------------------------------------

def test_ntpd_rules_exclude_a_wanted_alias(tmp_path: Path) -> None:
    data = report("ntpd", tmp_path)
    found = one(data, "alias-excluded")
    assert found["severity"] == "warning"
    assert found["summary"] == "ntpd's rules ignore 10.77.0.50 (eth0:0)"
    conf = "ntpd/etc/ntpsec/ntp.conf"
    assert evidence(found) == [
        f"{conf}:11: interface ignore ipv4   <- the last rule matching 10.77.0.50",
        f"{conf}:12: interface listen eth0",
        f"{conf}:20: restrict 10.77.0.50 nomodify notrap"]
    assert "ntpd matches interface names against the address label eth0:0, not eth0" in \
        found["why"]


def test_ntpd_not_listening_on_an_alias_it_is_configured_for(tmp_path: Path) -> None:
    found = one(report("ntpd", tmp_path), "not-listening")
    assert found["summary"] == "ntpd is not listening on 10.77.0.51:123 (eth0:1)"
    assert evidence(found)[1] == ("/proc/net/udp: ntpd (pid 100) has port 123 on 10.77.0.10, "
                                  "127.0.0.1, ::1")
    assert "reach no socket at all" in found["why"]  # `interface ignore wildcard`


def test_update_interval_0_ntpsec_ignores_classic_honours(tmp_path: Path) -> None:
    ntpsec = one(report("ntpd", tmp_path), "update-interval-0")
    assert ntpsec["severity"] == "info"
    assert "ntpsec 1.2.2 ignores -U" in ntpsec["why"]
    data = report("ntpd-classic", tmp_path)
    classic = one(data, "update-interval-0")
    assert classic["severity"] == "warning"
    assert evidence(classic) == ['ntpd-classic/etc/sysconfig/ntpd:2: OPTIONS="-u ntp:ntp -p '
                                 '/var/run/ntpd.pid -g -U0 -L"']
    assert classic["fix"].startswith("remove `-U0` from line 2 of ")
    assert one(data, "novirtualips")["severity"] == "warning"


def test_ntpd_not_running_here_is_not_judged(tmp_path: Path) -> None:
    live = live_of("ntpd")
    # chronyd's wildcard socket, say, and no ntpd process
    live.daemon_state = FakeDaemons().add("chronyd", 200, ["chronyd"], [("udp", "0.0.0.0", NTP)])
    assert not findings(report("ntpd", tmp_path, live=live), "not-listening")


# -- 7. xinetd ---------------------------------------------------------------------------------

def test_xinetd_bind_to_a_missing_address(tmp_path: Path) -> None:
    data = report("xinetd", tmp_path)
    found = one(data, "bind-missing")
    assert found["summary"] == "xinetd service rsync binds to 203.0.113.10, which no interface has"
    assert evidence(found) == ["xinetd/etc/xinetd.d/rsync:13: bind            = 203.0.113.10",
                               "xinetd/etc/xinetd.d/rsync:4: service rsync",
                               "ip address: no interface has 203.0.113.10"]
    assert "until the next reload" in found["why"]


# -- 8. hooks ---------------------------------------------------------------------------------

def test_hooks_misnamed_and_not_executable(tmp_path: Path) -> None:
    data = report("hooks", tmp_path)
    misnamed = one(data, "hook-misnamed")
    assert misnamed["summary"] == ("nethook's dhclient (Debian) exit hook is installed as "
                                   "nethook.sh, which dhclient (Debian) skips")
    assert misnamed["why"].startswith("run-parts skips names holding anything but letters")
    perms = one(data, "hook-permissions")
    assert perms["summary"] == ("ifupdown will skip nethook's hook "
                                "hooks/etc/network/if-up.d/nethook")
    assert "; this one is not executable, so it is skipped without a word" in perms["why"]
    assert perms["fix"] == "`chmod 0755 hooks/etc/network/if-up.d/nethook`"
    assert perms["fix_action"] == ("chmod 0755 hooks/etc/network/if-up.d/nethook (was 0644)")
    assert {f["code"] for f in data["findings"] if f["check"] == "hooks"} == {
        "hook-misnamed", "hook-permissions"}


def test_hooks_group_writable_masked_and_nethook_gone(tmp_path: Path) -> None:
    root = copy_tree("hooks", tmp_path)
    nm = root / "usr/lib/NetworkManager/dispatcher.d/50-nethook"
    nm.chmod(0o775)
    data = report("hooks", tmp_path, root=root)
    found = [f for f in data["findings"] if f["summary"].startswith("NetworkManager")]
    assert len(found) == 1 and "writable by group or others" in found[0]["why"]
    masked = root / "etc/NetworkManager/dispatcher.d/50-nethook"
    masked.parent.mkdir(parents=True)
    masked.symlink_to("/dev/null")
    (root / "usr/bin/nethook").unlink()
    data = report("hooks", tmp_path, root=root)
    assert one(data, "hook-masked")["fix"] == f"remove the link: `rm {masked}`"
    assert one(data, "nethook-missing")["summary"] == ("the hooks call /usr/bin/nethook, which "
                                                       "is not there")


def test_hook_that_is_a_link_to_nothing(tmp_path: Path) -> None:
    root = copy_tree("hooks", tmp_path)
    hook = root / "usr/lib/networkd-dispatcher/routable.d/50-nethook"
    hook.unlink()
    hook.symlink_to("/usr/share/nethook/hooks/50-nethook")
    found = one(report("hooks", tmp_path, root=root), "hook-dangling")
    assert found["summary"] == "nethook's networkd-dispatcher hook is a link to nothing"
    assert evidence(found)[0] == f"{hook}: -> /usr/share/nethook/hooks/50-nethook"


def test_nothing_installed_is_one_finding(tmp_path: Path) -> None:
    """A checkout run on a machine without the package: one error saying so, not one
    "install the package again" per hook."""
    root = copy_tree("hooks", tmp_path)
    for hook in [p for p in root.rglob("*") if p.is_file() and "nethook" in p.name]:
        hook.unlink()
    data = report("hooks", tmp_path, root=root)
    [found] = [f for f in data["findings"] if f["check"] == "hooks"]
    assert (found["code"], found["severity"]) == ("not-installed", "error")
    assert found["summary"] == ("nethook is not installed: none of its hooks is in place, and "
                                "/usr/bin/nethook is not there")
    assert evidence(found)[-1] == f"{root}/usr/bin/nethook: missing"
    assert found["why"].startswith("NetworkManager, dhclient (Debian), ifupdown, "
                                   "networkd-dispatcher never call nethook")
    assert found["fix"].endswith("; a pip install brings neither")


def test_stacks_not_in_use_need_no_hook(tmp_path: Path) -> None:
    data = report("centos-gateway", tmp_path)
    assert not [f for f in data["findings"] if f["check"] == "hooks"]


# -- 9. nethook itself -------------------------------------------------------------------------

def test_invalid_configuration(tmp_path: Path) -> None:
    found = one(report("self", tmp_path), "config-invalid")
    assert found["severity"] == "error"
    assert evidence(found) == ["self/etc/nethook/nethook.yaml:7: interfaces.eth0.addresses[1]: "
                               "'10.77.0.300/24' is not an IP address"]


def test_nothing_declared_is_a_note(tmp_path: Path) -> None:
    found = one(report("kudzu", tmp_path), "nothing-declared")
    assert found["severity"] == "info"
    assert evidence(found) == ["kudzu/etc/nethook/nethook.yaml: missing",
                               "distro files: no address, route or rule nethook imports"]
    empty = tmp_path / "conf"
    empty.mkdir()
    (empty / "nethook.yaml").write_text("version: 1\n")
    found = one(report("kudzu", tmp_path, config=empty), "nothing-declared")
    assert evidence(found)[0] == f"{empty}/nethook.yaml: declares no address, route or rule"
    assert "nothing-declared" not in {f["code"] for f in report("clean", tmp_path)["findings"]}


def test_journal_failures_and_an_open_state_directory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    state.chmod(0o777)
    lines = [
        {"time": "2026-11-10T08:00:00.000+00:00", "event": {"ifname": "eth0"}, "exit": 1,
         "results": [{"op": "ip -4 address add 10.77.0.9/24 dev eth0", "status": "failed",
                      "error": "too old to count"}]},
        {"time": "2026-11-20T08:19:36.927+00:00",
         "event": {"source": "dhclient", "reason": "BOUND", "ifname": "eth0"}, "exit": 1,
         "results": [{"op": "ip -4 address add 10.77.0.50/24 dev eth0 label eth0:0",
                      "status": "applied"},
                     {"op": "ip -4 route add default via 10.77.0.1 dev eth0 table 100 proto 177",
                      "status": "failed",
                      "error": "Nexthop has invalid gateway (ENETUNREACH)"}]},
        {"time": "2026-11-20T08:20:00.000+00:00", "event": {"ifname": "eth0"}, "exit": 0,
         "results": []},
    ]
    (state / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines)
                                         + "a torn line\n")
    data = report("self", tmp_path, state_dir=state)
    unsafe = one(data, "directory-unsafe")
    assert unsafe["summary"] == f"nethook's state directory {state} is writable by everyone"
    assert unsafe["fix_action"] == f"chmod 0700 {state} (was 0777)"
    assert findings(data, "journal-failures") == []  # nothing is read from it as it is
    state.chmod(0o700)
    data = report("self", tmp_path, state_dir=state)
    journal = one(data, "journal-failures")
    assert journal["summary"] == ("the journal shows 1 run(s) with failed operations in the "
                                  "last 7 days")
    assert evidence(journal) == [
        f"{state}/journal.jsonl: 2026-11-20T08:19:36.927+00:00 eth0 BOUND from dhclient: "
        "ip -4 route add default via 10.77.0.1 dev eth0 table 100 proto 177: Nexthop has "
        "invalid gateway (ENETUNREACH)"]
