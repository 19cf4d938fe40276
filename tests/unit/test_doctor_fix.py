"""`nethook doctor --fix` on copies of the fixture trees: it changes exactly what it printed,
keeps a copy of every file it rewrites, and leaves the rest of the tree as it was."""

from __future__ import annotations

import errno
import io
import logging
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Dict, Tuple

import pytest

from tests.unit.test_doctor_checks import (  # in_fixtures: roots relative to the fixtures
    copy_tree,
    doctor,
    in_fixtures,  # noqa: F401
    live_of,
    report,
)
from tests.unit.test_doctor_live import FakeKernel, route

Tree = Dict[str, Tuple[int, bytes]]
SCRIPTS = "etc/sysconfig/network-scripts"
STAMP = "20261121T091200Z"  # from test_doctor_checks.NOW


def snapshot(root: Path) -> Tree:
    """Every file and directory under ``root``: its mode and content."""
    tree: Tree = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        data = path.read_bytes() if stat.S_ISREG(info.st_mode) else b""
        tree[str(path.relative_to(root))] = (stat.S_IMODE(info.st_mode), data)
    return tree


def changes(before: Tree, after: Tree) -> Dict[str, str]:
    found = {}
    for name in sorted(set(before) | set(after)):
        if name not in after:
            found[name] = "deleted"
        elif name not in before:
            found[name] = "added"
        elif before[name][1] != after[name][1]:
            found[name] = "content"
        elif before[name][0] != after[name][0]:
            found[name] = f"mode {before[name][0]:04o} -> {after[name][0]:04o}"
    return found


def test_kudzu_fix_writes_the_old_addressing_with_the_new_mac(tmp_path: Path) -> None:
    root = copy_tree("kudzu", tmp_path)
    ifcfg = root / SCRIPTS / "ifcfg-eth0"
    old = ifcfg.read_bytes()
    ifcfg.chmod(0o600)
    before = snapshot(root)
    code, out = doctor("kudzu", tmp_path, root=root, fix=True, as_json=False)
    assert code == 1  # the stale eth1 file and udev line are left to the administrator
    assert f"fixing: rewrite {ifcfg}: add BOOTPROTO, IPADDR, NETMASK, GATEWAY" in out
    backup = f"{SCRIPTS}/ifcfg-eth0.nethook-{STAMP}.bak"
    assert f"  done: rewrote {ifcfg}; the old file is {root / backup}" in out
    assert changes(before, snapshot(root)) == {f"{SCRIPTS}/ifcfg-eth0": "content",
                                               backup: "added"}
    assert (root / backup).read_bytes() == old
    assert stat.S_IMODE(ifcfg.stat().st_mode) == 0o600  # the file keeps its mode
    assert ifcfg.read_text() == """\
# Microsoft Corporation Virtual Machine Bus Network Adapter
DEVICE=eth0
BOOTPROTO=none
HWADDR=00:15:5d:0a:0b:0c
ONBOOT=yes
# The addressing of ifcfg-eth0.bak (HWADDR 00:15:5D:01:02:03), put back by nethook doctor --fix
IPADDR=192.0.2.10
NETMASK=255.255.255.0
GATEWAY=192.0.2.1
"""
    again = report("kudzu", tmp_path, root=root)
    assert "kudzu-rename" not in {f["code"] for f in again["findings"]}


def test_kudzu_fix_keeps_quoting_and_comments_of_the_copy(tmp_path: Path) -> None:
    root = copy_tree("kudzu", tmp_path)
    (root / SCRIPTS / "ifcfg-eth0.bak").write_text(
        'DEVICE="eth0"\nHWADDR="00:15:5D:01:02:03"\nBOOTPROTO="static"   # since 2014\n'
        "IPADDR='192.0.2.10'\nPREFIX=24\n")
    doctor("kudzu", tmp_path, root=root, fix=True, as_json=False)
    assert (root / SCRIPTS / "ifcfg-eth0").read_text().splitlines()[2:] == [
        'BOOTPROTO="static"   # since 2014', "HWADDR=00:15:5d:0a:0b:0c", "ONBOOT=yes",
        "# The addressing of ifcfg-eth0.bak (HWADDR 00:15:5D:01:02:03), put back by nethook "
        "doctor --fix", "IPADDR='192.0.2.10'", "PREFIX=24"]


def test_kudzu_fix_refuses_a_line_with_two_assignments(tmp_path: Path) -> None:
    root = copy_tree("kudzu", tmp_path)
    (root / SCRIPTS / "ifcfg-eth0.bak").write_text(
        "DEVICE=eth0\nHWADDR=00:15:5D:01:02:03\nIPADDR=192.0.2.10 NETMASK=255.255.255.0\n")
    before = snapshot(root)
    data = report("kudzu", tmp_path, root=root, fix=True)
    assert [f["fix_action"] for f in data["findings"] if f["code"] == "kudzu-rename"] == [None]
    assert data["fixes"] == []
    assert changes(before, snapshot(root)) == {}


def test_duplicate_default_route_fix_deletes_only_the_extra_route(tmp_path: Path) -> None:
    root = copy_tree("debian-gateway", tmp_path)
    before = snapshot(root)
    live = live_of("debian-gateway")
    kernel = FakeKernel(live)
    data = report("debian-gateway", tmp_path, root=root, live=live, kernel=kernel, fix=True)
    assert kernel.deleted == [replace(route("0.0.0.0/0", via="198.51.100.1"), scope=None)]
    assert (kernel.opened, kernel.closed) == (1, 1)
    assert data["fixes"] == [{
        "check": "default-routes", "code": "shared-metric", "applied": True,
        "action": "ip -4 route del default via 198.51.100.1 dev eth0 table 254",
        "result": "deleted 1 route(s)"}]
    assert data["exit"] == 0  # fixed; what is left is a note
    assert changes(before, snapshot(root)) == {}  # /etc/network/interfaces is never edited


def test_the_route_fix_goes_through_the_planner_and_the_applier(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The applier logs each answer of the kernel; a route gone since doctor looked is not
    sent at all (the planner observes again), and the run lock is held meanwhile."""
    live = live_of("debian-gateway")
    kernel = FakeKernel(live)
    extra = replace(route("0.0.0.0/0", via="198.51.100.1"), scope=None)

    class Racing(io.StringIO):
        def write(self, text: str) -> int:
            if text.startswith("fixing: ip -4 route del"):  # another tool deletes it first
                state = live.observed_state
                live.observed_state = replace(state, routes=frozenset(
                    r for r in state.routes if replace(r, scope=None) != extra))
            return super().write(text)

    with caplog.at_level(logging.DEBUG, logger="nethook.engine.apply"):
        code, out = doctor("debian-gateway", tmp_path, live=live, kernel=kernel, fix=True,
                           as_json=False, out=Racing())
    assert (code, kernel.deleted) == (0, [])
    assert ("  done: deleted 0 route(s); already gone, or changed since doctor looked: "
            "default via 198.51.100.1 dev eth0 table 254") in out
    assert (tmp_path / "run" / "lock").exists()  # taken as every run takes it

    kernel = FakeKernel(live_of("debian-gateway"))
    with caplog.at_level(logging.DEBUG, logger="nethook.engine.apply"):
        doctor("debian-gateway", tmp_path, kernel=kernel, live=kernel.live, fix=True)
    assert [r.getMessage() for r in caplog.records if r.name == "nethook.engine.apply"] == [
        "ip -4 route del default via 198.51.100.1 dev eth0 table 254: applied"]


def test_a_refused_fix_is_reported_and_counts(tmp_path: Path) -> None:
    kernel = FakeKernel(live_of("debian-gateway"), refuse=errno.EPERM)
    code, out = doctor("debian-gateway", tmp_path, live=kernel.live, kernel=kernel, fix=True,
                       as_json=False)
    assert code == 1
    assert ("  FAILED: the kernel refused ip -4 route del default via 198.51.100.1 dev eth0 "
            "table 254: Operation not permitted (EPERM)") in out


def test_hook_fix_restores_the_mode_and_nothing_else(tmp_path: Path) -> None:
    root = copy_tree("hooks", tmp_path)
    before = snapshot(root)
    data = report("hooks", tmp_path, root=root, fix=True)
    hook = root / "etc/network/if-up.d/nethook"
    assert [f["action"] for f in data["fixes"]] == [f"chmod 0755 {hook} (was 0644)"]
    assert changes(before, snapshot(root)) == {"etc/network/if-up.d/nethook": "mode 0644 -> 0755"}
    assert data["exit"] == 1  # the misnamed exit hook is left to the administrator


def test_state_directory_fix(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o1777)
    data = report("clean", tmp_path, state_dir=state, fix=True)
    assert data["fixes"][0]["action"] == f"chmod 0700 {state} (was 1777)"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert data["exit"] == 0


def test_without_fix_nothing_changes(tmp_path: Path) -> None:
    for tree in ("kudzu", "hooks", "debian-gateway"):
        root = copy_tree(tree, tmp_path)
        before = snapshot(root)
        live = live_of(tree)
        kernel = FakeKernel(live)
        report(tree, tmp_path, root=root, live=live, kernel=kernel)
        assert changes(before, snapshot(root)) == {}
        assert kernel.opened == 0
    assert not any(name.endswith(".bak") and "nethook-" in name
                   for name in os.listdir(tmp_path / "kudzu" / SCRIPTS))
