"""The DHCP lab itself: real dnsmasq, real dhclient, Debian's stock dhclient-script.

These tests prove the ground the nethook end-to-end tests stand on: dhclient
binds through the lab's hook directories, a renumbering gives the same
EXPIRE -> PREINIT -> BOUND sequence a production server change gives (and the
kernel drops the same-subnet alias, the bug nethook repairs), the control
processes (``-x``/``-r``) see the lab's hooks too, and nothing outlives the lab.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.dhcp_lab import DhcpLab, Mount, host_mount_leaks, missing_requirements
from lab.ifupdown_lab import IfupdownLab
from lab.netns import require
from lab.procs import is_running

pytestmark = [pytest.mark.privileged, pytest.mark.e2e]

FIRST, SECOND, ALIAS = "10.77.0.10", "10.77.0.11", "10.77.0.50"


def _require_tools() -> None:
    problem = missing_requirements()
    if problem:
        require(problem)


@pytest.fixture
def lab() -> Iterator[DhcpLab]:
    _require_tools()
    assert host_mount_leaks() == []
    with DhcpLab(address=FIRST, t1=4, t2=8) as running:
        yield running
    assert host_mount_leaks() == []


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True,
                         check=True, timeout=10).stdout.strip()
    return {entry["name"] for entry in json.loads(out)} if out else set()


def test_dhclient_binds_through_the_lab_hooks(lab: DhcpLab) -> None:
    bound = lab.wait_bound(FIRST)

    assert lab.reasons() == ["PREINIT", "BOUND"]
    assert (bound.reason, bound.interface, bound.old_ip) == ("BOUND", "eth0", None)
    [address] = lab.addresses()
    assert (address.cidr, address.label, address.dynamic) == (f"{FIRST}/24", "eth0", True)
    routes = json.loads(lab.ip("-j", "-4", "route", "show", "default").stdout)
    assert [r["gateway"] for r in routes] == ["10.77.0.1"]
    # dhclient runs with the lab's /etc/dhcp; the host's mount table has none of it.
    pid = lab.dhclient_pid
    assert pid is not None
    mounts = Path(f"/proc/{pid}/mountinfo").read_text()
    assert " /etc/dhcp " in mounts and " /var/lib/dhcp " in mounts
    assert host_mount_leaks() == []


def test_renumber_expires_the_lease_and_the_kernel_drops_the_alias(lab: DhcpLab) -> None:
    lab.wait_bound(FIRST)
    lab.ip("addr", "add", f"{ALIAS}/24", "dev", "eth0", "label", "eth0:0")
    assert [(a.address, a.label, a.secondary) for a in lab.addresses()] == [
        (FIRST, "eth0", False), (ALIAS, "eth0:0", True)]

    mark = lab.mark()
    lab.renumber(SECOND)
    expire, _preinit, bound = lab.wait_for_sequence(
        ["EXPIRE", "PREINIT", "BOUND"], after=mark, timeout=10)
    lab.wait_bound(SECOND, after=mark)

    reasons = lab.reasons(mark)
    start = reasons.index("EXPIRE")
    assert reasons[start:start + 3] == ["EXPIRE", "PREINIT", "BOUND"]
    assert (expire.old_ip, expire.new_ip) == (FIRST, None)
    assert (bound.old_ip, bound.new_ip) == (None, SECOND)
    assert bound.time > expire.time
    # EXPIRE flushed label eth0; with promote_secondaries=0 the kernel deleted the
    # same-subnet secondary with its primary, and nothing brought it back.
    assert [(a.address, a.label) for a in lab.addresses()] == [(SECOND, "eth0")]


def test_stop_restart_and_release_run_the_lab_hooks(lab: DhcpLab) -> None:
    lab.wait_bound(FIRST)
    lab.wait_lease_file(FIRST)

    mark = lab.mark()
    lab.stop()  # dhclient -x: a new process, wrapped like the daemon
    stop = lab.wait_for_reason("STOP", after=mark, timeout=5)
    assert stop.old_ip == FIRST
    assert lab.dhclient_pid is None

    lab.start_dhclient()
    lab.wait_for_sequence(["PREINIT", "REBOOT"], after=mark, timeout=10)
    lab.wait_bound(FIRST, after=mark)

    mark = lab.mark()
    lab.release()  # dhclient -r
    assert lab.wait_for_reason("RELEASE", after=mark, timeout=5).old_ip == FIRST
    assert lab.addresses() == []
    assert lab.dhclient_pid is None


def test_extra_mounts_overlay_a_program_for_the_hooks(tmp_path: Path) -> None:
    _require_tools()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nethook"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$*" >> /etc/dhcp/lab/nethook-calls\n')
    fake.chmod(0o755)
    assert not Path("/usr/bin/nethook").exists()

    with DhcpLab(address=FIRST, autostart=False,
                 extra_mounts=[Mount(str(bin_dir), "/usr/bin", "overlay")]) as lab:
        lab.install_hook("exit", "50-nethook", '/usr/bin/nethook dhclient "$reason" || true\n')
        lab.start_dhclient()
        lab.wait_bound(FIRST)
        calls = (lab.dhcp_dir / "lab" / "nethook-calls").read_text().splitlines()

    assert calls == ["dhclient PREINIT", "dhclient BOUND"]
    assert not Path("/usr/bin/nethook").exists()


def test_ifup_and_ifdown_leave_only_the_lab_daemons() -> None:
    _require_tools()
    with DhcpLab(address=FIRST, autostart=False) as lab:
        ifl = IfupdownLab(lab)
        ifl.write_interfaces(
            f"iface eth0 inet dhcp\n\niface eth0:0 inet static\n    address {ALIAS}/24\n")
        ifl.ifup("eth0")
        ifl.ifup("eth0:0")
        assert [(a.address, a.label) for a in lab.addresses()] == [
            (FIRST, "eth0"), (ALIAS, "eth0:0")]
        assert ifl.captured_env("eth0")["METHOD"] == "dhcp"
        assert lab.reasons() == ["PREINIT", "BOUND"]

        ifl.ifdown("eth0:0")
        ifl.ifdown("eth0")
        assert lab.reasons()[-1] == "RELEASE"
        names = sorted(Path(f"/proc/{pid}/comm").read_text().strip() for pid in lab.pids())
        assert names == ["dnsmasq", "ip"]  # ifup's dhclient is gone


def test_close_kills_everything_and_removes_namespaces() -> None:
    _require_tools()
    lab = DhcpLab(address=FIRST)
    with lab:
        lab.wait_bound(FIRST)
        pids = lab.pids()
        names = {lab.server_ns, lab.client_ns}
        assert len(pids) == 3  # dnsmasq, dhclient, ip monitor
        assert names <= _namespaces()

    assert not any(is_running(pid) for pid in pids)
    assert not names & _namespaces()
    assert not lab.dir.exists()
    assert host_mount_leaks() == []
    lab.close()  # closing twice is harmless
