"""The same event semantics on every stack: a call before a removal takes the snapshot.

Each caller here follows its real script's order of calls exactly:

* RHEL's dhclient-script (dhcp 4.2.5, as RHEL 7 ships it): on EXPIRE, FAIL, RELEASE and
  STOP it sources ``dhclient.d/*.sh`` and calls ``NAME_restore`` *first*, then
  ``flush_dev`` (``ip -4 addr flush dev IF``, ``ip -4 route flush dev IF``); on BOUND it
  runs ``dhconfig``: a changed address flushes the interface, the lease is added, and
  ``NAME_config`` is called last. A hand-made alias and table route, declared nowhere,
  come back after EXPIRE -> BOUND.
* Debian's dhclient-script (/sbin/dhclient-script of isc-dhcp-client, run as it is):
  dhclient -6 starting without a release runs PREINIT6, which flushes every permanent
  global IPv6 address; the enter hook snapshots before that, and BOUND6's exit hook
  restores a hand-made IPv6 alias.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import List, Mapping

import pytest

from lab.dhcp_lab import Mount, host_mount_leaks, private_mounts_argv
from lab.hooks import SAFETY_HOOK
from lab.nethook_env import DEBIAN_ENTER, DEBIAN_EXIT, RHEL, NethookDirs, install_shim
from lab.netns import VethNamespace, veth_namespace

pytestmark = pytest.mark.privileged

CONFIG = """\
version: 1
interfaces:
  eth0:
    addresses:
      - {address: 10.77.0.50/24, label: "eth0:0"}
"""
OLD, NEW = "10.77.0.10", "10.77.0.11"
HAND_ALIAS = "10.77.0.77/24"

# RHEL's dhclient-script, reduced to the calls that touch addresses, in its order.
RHEL_SCRIPT = r"""
ETCDIR=$1
run_dhclient_d() {
    for f in "$ETCDIR"/dhclient.d/*.sh; do
        if [ -x "$f" ]; then
            subsystem="${f%.sh}"
            subsystem="${subsystem##*/}"
            . "$f"
            "${subsystem}_$1"
        fi
    done
}
flush_dev() {
    ip -4 addr flush dev "$1" >/dev/null 2>&1
    ip -4 route flush dev "$1" >/dev/null 2>&1
    ip -4 neigh flush dev "$1" >/dev/null 2>&1
}
case "$reason" in
    EXPIRE|FAIL|RELEASE|STOP)
        run_dhclient_d restore
        if [ -n "$old_ip_address" ]; then
            flush_dev "$interface"
        fi
        ;;
    BOUND|RENEW|REBIND|REBOOT)
        if [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ]; then
            flush_dev "$interface"
        fi
        ip -family inet addr add "$new_ip_address/$new_subnet_mask" \
            broadcast "$new_broadcast_address" dev "$interface" >/dev/null 2>&1
        ip route replace default via "$new_routers" dev "$interface"
        run_dhclient_d config
        ;;
esac
echo "script done"
"""


class Host:
    """A test namespace, a test nethook, and the caller scripts run as the stack runs them."""

    def __init__(self, veth: VethNamespace, tmp: Path, dirs: NethookDirs) -> None:
        self.veth = veth
        self.tmp = tmp
        self.dirs = dirs
        self.bin_dir = dirs.wrapper()

    def run(self, argv: List[str], env: Mapping[str, str],
            mounts: List[Mount]) -> subprocess.CompletedProcess[str]:
        full_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env}
        done = subprocess.run(private_mounts_argv(
            self.veth.name, [Mount(str(self.bin_dir), "/usr/bin", "overlay"), *mounts], argv),
            env=full_env, capture_output=True, text=True, timeout=120, cwd="/",
            stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def addresses(self, family: str = "-4") -> List[str]:
        return sorted(f"{a['local']}/{a['prefixlen']}"
                      for link in self.veth.ns.ip_json(family, "addr", "show", "dev", "eth0")
                      for a in link["addr_info"] if a.get("scope") == "global")


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    assert host_mount_leaks() == []
    dirs = NethookDirs.create(tmp_path / "nethook", CONFIG)
    with veth_namespace() as veth:
        veth.peer.ip("addr", "add", "10.77.0.1/24", "dev", "veth0")
        yield Host(veth, tmp_path, dirs)
    assert host_mount_leaks() == []


def _lease_env(reason: str, old: str | None, new: str | None) -> dict[str, str]:
    env = {"reason": reason, "interface": "eth0"}
    if old:
        env.update(old_ip_address=old, old_subnet_mask="255.255.255.0")
    if new:
        env.update(new_ip_address=new, new_subnet_mask="255.255.255.0",
                   new_broadcast_address="10.77.0.255", new_routers="10.77.0.1")
    return env


def test_rhel_expire_then_bound_brings_back_what_no_file_declares(host: Host) -> None:
    ns = host.veth.ns
    ns.ip("addr", "add", f"{OLD}/24", "dev", "eth0", "valid_lft", "120",
          "preferred_lft", "120")
    ns.ip("addr", "add", "10.77.0.50/24", "dev", "eth0", "label", "eth0:0")  # declared
    ns.ip("addr", "add", HAND_ALIAS, "dev", "eth0", "label", "eth0:7")  # declared nowhere
    ns.ip("route", "add", "default", "via", "10.77.0.1", "table", "100")
    ns.ip("rule", "add", "from", "10.77.0.77", "lookup", "100", "priority", "1077")
    etc = host.tmp / "etc-dhcp"
    install_shim(RHEL, etc / "dhclient.d")
    caller = ["bash", "-c", RHEL_SCRIPT, "dhclient-script", str(etc)]

    host.run(caller, _lease_env("EXPIRE", OLD, None), [])
    assert host.addresses() == []  # flush_dev took everything
    snapshot = host.dirs.snapshot("eth0")
    assert snapshot is not None and snapshot["reason"] == "EXPIRE"
    host.run(caller, _lease_env("BOUND", None, NEW), [])

    assert host.addresses() == sorted([f"{NEW}/24", "10.77.0.50/24", HAND_ALIAS])
    assert ns.ip_json("route", "show", "table", "100")
    assert any(r.get("priority") == 1077 for r in ns.ip_json("rule", "show"))
    kinds = [(e["event"]["reason"], e["event"]["kind"]) for e in host.dirs.journal()]
    assert kinds == [("EXPIRE", "teardown"), ("BOUND", "configure")]
    assert host.dirs.journal()[0]["event"]["removal_pending"] is True


def _debian_mounts(host: Host) -> List[Mount]:
    dhcp = host.tmp / "dhcp"
    for name in ("dhclient-enter-hooks.d", "dhclient-exit-hooks.d"):
        (dhcp / name).mkdir(parents=True, exist_ok=True)
    (dhcp / "dhclient-enter-hooks.d" / "00-lab-safety").write_text(SAFETY_HOOK)
    install_shim(DEBIAN_ENTER, dhcp / "dhclient-enter-hooks.d")
    install_shim(DEBIAN_EXIT, dhcp / "dhclient-exit-hooks.d")
    return [Mount(str(dhcp), "/etc/dhcp")]


def _dhclient_script() -> str:
    found = shutil.which("dhclient-script", path="/usr/sbin:/sbin")
    if found is None:
        pytest.fail("needs isc-dhcp-client's /sbin/dhclient-script")
    return found


def test_debian_preinit6_flush_is_undone_after_bound6(host: Host) -> None:
    ns = host.veth.ns
    ns.ip("addr", "add", "fd81::50/64", "dev", "eth0")  # by hand, permanent
    ns.ip("addr", "add", "fd81::a/128", "dev", "eth0", "valid_lft", "600",
          "preferred_lft", "300")  # the previous DHCPv6 lease
    ns.ip("addr", "add", "10.77.0.50/24", "dev", "eth0", "label", "eth0:0")
    mounts = _debian_mounts(host)
    script = [_dhclient_script()]

    host.run(script, {"reason": "PREINIT6", "interface": "eth0"}, mounts)
    # PREINIT6 flushes the permanent addresses; the old lease (with lifetimes) stays
    assert host.addresses("-6") == ["fd81::a/128"]
    snapshot = host.dirs.snapshot("eth0")
    assert snapshot is not None and snapshot["reason"] == "PREINIT6"
    assert [o["address"] for o in snapshot["objects"]] == ["fd81::50/64"]

    host.run(script, {"reason": "BOUND6", "interface": "eth0",
                      "new_ip6_address": "fd81::b", "new_ip6_prefixlen": "128",
                      "new_max_life": "600", "new_preferred_life": "300"}, mounts)
    six = host.addresses("-6")
    assert "fd81::50/64" in six and "fd81::b/128" in six
    assert host.addresses() == ["10.77.0.50/24"]  # IPv4 was never touched


def test_a_v6_snapshot_keeps_the_pending_v4_part(host: Host) -> None:
    """dhclient -4 and -6 on one interface: PREINIT6 must not drop what EXPIRE kept."""
    ns = host.veth.ns
    ns.ip("addr", "add", f"{OLD}/24", "dev", "eth0", "valid_lft", "120",
          "preferred_lft", "120")
    ns.ip("addr", "add", HAND_ALIAS, "dev", "eth0", "label", "eth0:7")
    ns.ip("addr", "add", "fd81::50/64", "dev", "eth0")
    mounts = _debian_mounts(host)
    script = [_dhclient_script()]
    host.run(script, _lease_env("EXPIRE", OLD, None), mounts)
    host.run(script, {"reason": "PREINIT6", "interface": "eth0"}, mounts)
    snapshot = host.dirs.snapshot("eth0")
    assert snapshot is not None
    found = sorted(ipaddress.ip_interface(o["address"]).with_prefixlen
                   for o in snapshot["objects"] if o["kind"] == "address")
    assert found == [HAND_ALIAS, "fd81::50/64"], json.dumps(snapshot)
