"""Which process is the daemon: its pidfile, else the one whose parent is another program.

/proc trees here are written the way the kernel lays them out (comm, stat, cmdline and the
ns/net link); the real daemons, a hung child among them, are in
tests/e2e/test_services_live.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

from nethook.daemons.processes import Process, find, identify


def proc_tree(tmp_path: Path, processes: Dict[int, tuple], netns: str = "net:[1]") -> Path:
    """``processes``: pid -> (comm, ppid, argv, namespace link or None)."""
    proc = tmp_path / "proc"
    (proc / "self" / "ns").mkdir(parents=True)
    (tmp_path / "ns-ours").write_text("")
    (tmp_path / "ns-other").write_text("")
    (proc / "self" / "ns" / "net").symlink_to(tmp_path / "ns-ours")
    for pid, (comm, ppid, argv, ns) in processes.items():
        base = proc / str(pid)
        (base / "ns").mkdir(parents=True)
        (base / "comm").write_text(comm + "\n")
        (base / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1\n")
        (base / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in argv))
        if ns is not None:
            (base / "ns" / "net").symlink_to(tmp_path / ns)
    return proc


def test_processes_of_our_namespace_by_comm(tmp_path: Path) -> None:
    proc = proc_tree(tmp_path, {
        10: ("xinetd", 1, ["/usr/sbin/xinetd", "-pidfile", "/run/xinetd.pid"], "ns-ours"),
        11: ("xinetd", 10, ["/usr/sbin/xinetd", "-pidfile", "/run/xinetd.pid"], "ns-ours"),
        20: ("xinetd", 1, ["/usr/sbin/xinetd"], "ns-other"),  # a container's
        30: ("ntpd", 1, ["ntpd", "-n"], None),  # a zombie: no namespace link
        40: ("bash", 1, ["bash"], "ns-ours")})
    found = find({"xinetd", "ntpd"}, proc)
    assert {comm: [p.pid for p in ps] for comm, ps in found.items()} == {"xinetd": [10, 11]}
    assert found["xinetd"][1].ppid == 10


def test_a_broken_namespace_link_is_not_ours(tmp_path: Path) -> None:
    """(One that is refused, EACCES, is kept with the reason: tests/e2e/test_services_caps.py.)"""
    proc = proc_tree(tmp_path, {10: ("ntpd", 1, ["ntpd"], "ns-ours")})
    target = proc / "10" / "ns" / "net"
    target.unlink()
    target.symlink_to(target)  # a loop: ELOOP, as for a process that is ending
    assert find({"ntpd"}, proc) == {}


def pidfiles(values: Dict[str, int]):  # type: ignore[no-untyped-def]
    def read(path: str) -> Optional[int]:
        return values.get(path)
    return read


MAIN = Process(10, "xinetd", ("xinetd",), 1)
CHILD = Process(11, "xinetd", ("xinetd",), 10)
ORPHAN = Process(5, "xinetd", ("xinetd",), 1)  # the old daemon's child, reparented


def test_the_pidfile_names_the_daemon() -> None:
    found = identify([ORPHAN, MAIN, CHILD], ["/run/xinetd.pid"], pidfiles({"/run/xinetd.pid": 10}))
    assert (found.main, found.how) == (MAIN, "pidfile /run/xinetd.pid")


def test_without_a_pidfile_the_one_whose_parent_is_another_program() -> None:
    found = identify([MAIN, CHILD], ["/run/xinetd.pid"], pidfiles({}))
    assert found.main == MAIN
    # a stale pidfile (a PID that is not xinetd now) is passed over
    assert identify([MAIN, CHILD], ["/p"], pidfiles({"/p": 999})).main == MAIN


def test_two_candidates_and_no_pidfile_cannot_be_told() -> None:
    found = identify([ORPHAN, MAIN, CHILD], ["/run/xinetd.pid"], pidfiles({}))
    assert found.main is None
    assert found.problem == ("2 xinetd processes (5, 10) and no pidfile names one of them "
                             "(tried: /run/xinetd.pid): cannot tell which is the daemon")


def test_a_daemon_whose_namespace_cannot_be_read_cannot_be_told() -> None:
    hidden = Process(10, "ntpd", ("ntpd",), 1, "cannot read /proc/10/ns/net: Permission denied")
    found = identify([hidden], [], pidfiles({}))
    assert (found.main, found.problem) == (
        None, "ntpd 10: cannot read /proc/10/ns/net: Permission denied")
    assert identify([], [], pidfiles({})).problem == "not running"
