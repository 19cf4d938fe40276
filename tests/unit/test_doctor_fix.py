"""`nethook doctor --fix` on copies of the fixture trees: it changes exactly what it printed,
keeps a copy of every file it rewrites, and leaves the rest of the tree as it was."""

from __future__ import annotations

import errno
import io
import logging
import os
import stat
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, Tuple

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
BOOTPROTO="none"
HWADDR=00:15:5d:0a:0b:0c
ONBOOT=yes
# The addressing of ifcfg-eth0.bak (HWADDR 00:15:5D:01:02:03), put back by nethook doctor --fix
IPADDR="192.0.2.10"
NETMASK="255.255.255.0"
GATEWAY="192.0.2.1"
"""
    again = report("kudzu", tmp_path, root=root)
    assert "kudzu-rename" not in {f["code"] for f in again["findings"]}


def test_kudzu_fix_writes_values_as_data_whatever_the_copy_looks_like(tmp_path: Path) -> None:
    """The copy is read the way the shell reads it (quotes, comments, two assignments on
    one line) and each value is written alone, double-quoted, in its plain form."""
    root = copy_tree("kudzu", tmp_path)
    (root / SCRIPTS / "ifcfg-eth0.bak").write_text(
        'DEVICE="eth0"\nHWADDR="00:15:5D:01:02:03"\nBOOTPROTO="Static"   # since 2014\n'
        "IPADDR='192.0.2.10' PREFIX=24\nONBOOT=no\n")
    doctor("kudzu", tmp_path, root=root, fix=True, as_json=False)
    assert (root / SCRIPTS / "ifcfg-eth0").read_text().splitlines()[2:] == [
        'BOOTPROTO="static"', "HWADDR=00:15:5d:0a:0b:0c", "ONBOOT=yes",
        "# The addressing of ifcfg-eth0.bak (HWADDR 00:15:5D:01:02:03), put back by nethook "
        "doctor --fix", 'IPADDR="192.0.2.10"', 'PREFIX="24"']


def test_kudzu_fix_leaves_a_line_of_the_current_file_that_does_more(tmp_path: Path) -> None:
    root = copy_tree("kudzu", tmp_path)
    (root / SCRIPTS / "ifcfg-eth0").write_text(
        "DEVICE=eth0\nBOOTPROTO=dhcp HWADDR=00:15:5d:0a:0b:0c\nONBOOT=yes\n")
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
        "action": "ip -4 route del default via 198.51.100.1 dev eth0 table main",
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
    with caplog.at_level(logging.INFO, logger="nethook.change"):
        doctor("debian-gateway", tmp_path, kernel=kernel, live=kernel.live, fix=True)
    assert [r.getMessage() for r in caplog.records if r.name == "nethook.change"] == [
        "ip -4 route del default via 198.51.100.1 dev eth0 table 254 (doctor --fix)"]


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


# -- attacks on --fix (issue 14): each one failed against the unconfined fixes -----------------


class Meddling(io.StringIO):
    """The report stream, with someone acting between the check and the fix: ``act`` runs
    when doctor announces the fix that starts with ``prefix``."""

    def __init__(self, prefix: str, act: Callable[[], None]) -> None:
        super().__init__()
        self.prefix, self.act = prefix, act

    def write(self, text: str) -> int:
        if text.startswith(f"fixing: {self.prefix}"):
            self.act()
        return super().write(text)


def outside(tmp_path: Path) -> Path:
    """A directory beside the root, standing for the rest of the machine."""
    place = tmp_path / "outside"
    place.mkdir()
    (place / "victim").write_text("precious\n")
    (place / "victim").chmod(0o640)
    return place


def test_a_directory_linked_out_of_the_root_is_not_written(tmp_path: Path) -> None:
    """ROOT/etc/sysconfig a link to a directory outside the root: the old fix rewrote the
    ifcfg file out there."""
    root = copy_tree("kudzu", tmp_path)
    elsewhere = outside(tmp_path)
    (root / "etc/sysconfig").rename(elsewhere / "sysconfig")
    (root / "etc/sysconfig").symlink_to(elsewhere / "sysconfig")
    before = snapshot(elsewhere)
    code, out = doctor("kudzu", tmp_path, root=root, fix=True, as_json=False)
    assert snapshot(elsewhere) == before
    assert (f"  FAILED: refused: {root / SCRIPTS} leads out of {root}: it resolves to "
            f"{elsewhere / 'sysconfig/network-scripts'}") in out
    assert code == 1


def test_a_hook_directory_linked_out_of_the_root_is_not_changed(tmp_path: Path) -> None:
    root = copy_tree("hooks", tmp_path)
    elsewhere = outside(tmp_path)
    (root / "etc/network/if-up.d").rename(elsewhere / "if-up.d")
    (root / "etc/network/if-up.d").symlink_to(elsewhere / "if-up.d")
    before = snapshot(elsewhere)
    code, out = doctor("hooks", tmp_path, root=root, fix=True, as_json=False)
    assert "  FAILED: refused: " in out and f"it resolves to {elsewhere / 'if-up.d'}" in out
    assert snapshot(elsewhere) == before
    assert code == 1


def test_bak_values_the_shell_would_run_are_not_copied(tmp_path: Path, canary: Path) -> None:
    """initscripts sources ifcfg-eth0: the old fix copied the .bak's lines as written."""
    root = copy_tree("kudzu", tmp_path)
    (root / SCRIPTS / "ifcfg-eth0.bak").write_text(
        "DEVICE=eth0\nHWADDR=00:15:5D:01:02:03\nBOOTPROTO=none\n"
        "IPADDR=192.0.2.10\nPREFIX=24\n"
        f'IPADDR1="10.92.0.78\\`touch {canary}/escaped\\`"\nPREFIX1=24\n'
        f'IPADDR2="10.92.0.79$(touch {canary}/dollar)"\nPREFIX2=24\n'
        f"GATEWAY='192.0.2.1;touch {canary}/semicolon'\n")
    data = report("kudzu", tmp_path, root=root, fix=True)
    ifcfg = root / SCRIPTS / "ifcfg-eth0"
    subprocess.run(["bash", "-c", '. "$1"', "bash", str(ifcfg)], check=True, timeout=10)
    assert sorted(p.name for p in canary.iterdir()) == []
    assert ifcfg.read_text().splitlines()[-3:] == [
        "# The addressing of ifcfg-eth0.bak (HWADDR 00:15:5D:01:02:03), put back by nethook "
        "doctor --fix", 'IPADDR="192.0.2.10"', 'PREFIX="24"']
    [finding] = [f for f in data["findings"] if f["code"] == "kudzu-rename"]
    bak = f"{root / SCRIPTS}/ifcfg-eth0.bak"
    assert finding["fix"] == (
        "put BOOTPROTO, IPADDR, PREFIX from ifcfg-eth0.bak back into ifcfg-eth0, keeping "
        "HWADDR=00:15:5d:0a:0b:0c; not copied (check them, and write them by hand if they are "
        f"right): IPADDR1 ({bak}:6): '10.92.0.78\\\\`touch {canary}/escaped\\\\`' is not an "
        f"IPv4 address; IPADDR2 ({bak}:8): '10.92.0.79$(touch {canary}/dollar)' asks the "
        "shell to expand something; nethook copies only plain values; GATEWAY "
        f"({bak}:10): '192.0.2.1;touch {canary}/semicolon' is not an IPv4 address; PREFIX1 "
        f"({bak}:7): goes with IPADDR1, which is not copied; PREFIX2 ({bak}:9): goes with "
        "IPADDR2, which is not copied; on Hyper-V, give the VM a static MAC so that it does "
        "not happen again")
    assert [f["applied"] for f in data["fixes"]] == [True]


def test_a_link_planted_at_the_backup_name_is_not_followed(tmp_path: Path) -> None:
    """The backup's name is predictable (a time stamp): the old fix copied the file
    through a link planted there, over whatever it pointed at."""
    root = copy_tree("kudzu", tmp_path)
    elsewhere = outside(tmp_path)
    ifcfg = root / SCRIPTS / "ifcfg-eth0"
    (root / f"{SCRIPTS}/ifcfg-eth0.nethook-{STAMP}.bak").symlink_to(elsewhere / "victim")
    (root / f"{SCRIPTS}/ifcfg-eth0.nethook-{STAMP}.bak").rename(
        root / f"{SCRIPTS}/planted")  # kept aside: planted between the check and the fix
    before, was = snapshot(elsewhere), ifcfg.read_bytes()
    code, out = doctor("kudzu", tmp_path, root=root, fix=True, as_json=False,
                       out=Meddling("rewrite", lambda: (root / f"{SCRIPTS}/planted").rename(
                           root / f"{SCRIPTS}/ifcfg-eth0.nethook-{STAMP}.bak")))
    assert snapshot(elsewhere) == before
    assert ifcfg.read_bytes() == was  # no backup, no rewrite
    assert (f"  FAILED: refused: {root / SCRIPTS}/ifcfg-eth0.nethook-{STAMP}.bak is already "
            "there; nethook does not overwrite it") in out
    assert code == 1


def test_a_hook_swapped_for_a_link_before_the_fix_is_not_followed(tmp_path: Path) -> None:
    """The old chmod followed a link put where the hook was after doctor looked at it."""
    root = copy_tree("hooks", tmp_path)
    elsewhere = outside(tmp_path)
    hook = root / "etc/network/if-up.d/nethook"

    def swap() -> None:
        hook.unlink()
        hook.symlink_to(elsewhere / "victim")

    code, out = doctor("hooks", tmp_path, root=root, fix=True, as_json=False,
                       out=Meddling("chmod", swap))
    assert stat.S_IMODE((elsewhere / "victim").stat().st_mode) == 0o640
    assert f"  FAILED: refused: {hook} is a symbolic link; nethook does not write through " \
           "links" in out
    assert code == 1


def test_a_state_directory_swapped_for_a_link_is_not_followed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o1777)
    elsewhere = outside(tmp_path)
    (elsewhere / "shared").mkdir()
    (elsewhere / "shared").chmod(0o1777)

    def swap() -> None:
        state.rename(tmp_path / "state.moved")
        state.symlink_to(elsewhere / "shared")

    code, out = doctor("clean", tmp_path, state_dir=state, fix=True, as_json=False,
                       out=Meddling("chmod", swap))
    assert stat.S_IMODE((elsewhere / "shared").stat().st_mode) == 0o1777
    assert f"  FAILED: refused: {state} is a symbolic link" in out
    assert code == 1


def test_a_file_changed_since_doctor_read_it_is_left_alone(tmp_path: Path) -> None:
    root = copy_tree("kudzu", tmp_path)
    ifcfg = root / SCRIPTS / "ifcfg-eth0"
    code, out = doctor("kudzu", tmp_path, root=root, fix=True, as_json=False,
                       out=Meddling("rewrite", lambda: ifcfg.write_text(
                           ifcfg.read_text() + "IPADDR=192.0.2.99\n")))
    assert ifcfg.read_text().endswith("IPADDR=192.0.2.99\n")
    assert f"  FAILED: {ifcfg} changed since doctor read it; run doctor again" in out
    assert not list((root / SCRIPTS).glob("*.nethook-*"))
    assert code == 1


def test_a_value_cannot_forge_lines_of_the_report(tmp_path: Path) -> None:
    root = copy_tree("kudzu", tmp_path)
    (root / SCRIPTS / "ifcfg-eth0.bak").write_text(
        'DEVICE=eth0\nHWADDR=00:15:5D:01:02:03\nIPADDR=192.0.2.10\nPREFIX=24\n'
        'IPADDR1="10.0.0.1\nINFO     forged: all is well\x1b[2J"\n')
    _code, out = doctor("kudzu", tmp_path, root=root, as_json=False)
    assert not [line for line in out.splitlines() if line.startswith("INFO     forged")]
    assert "\x1b" not in out
    assert "IPADDR1=10.0.0.1\\nINFO     forged: all is well\\x1b[2J" in out
