"""``make demo`` (demo/demo.py): it runs through, and leaves nothing behind when stopped.

The demo runs as a process of its own, as ``make demo`` runs it. Stopped by SIGTERM or
SIGINT in the middle (while dnsmasq, dhclient or the watcher run), it must leave no
namespace, no process and no file of its own behind, and no mount in this namespace.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lab.dhcp_lab import host_mount_leaks, missing_requirements
from lab.nethook_env import REPO
from lab.netns import namespace_names
from lab.services_lab import require

pytestmark = [pytest.mark.privileged, pytest.mark.e2e]

DEMO = REPO / "demo" / "demo.py"


class Running:
    """The demo's process, its output read line by line as it comes."""

    def __init__(self) -> None:
        require(missing_requirements())
        self.proc = subprocess.Popen(
            [sys.executable, str(DEMO)], cwd="/", stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)})
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {text!r}; so far:\n{''.join(self.output)}") from None
            self.output.append(line)
            if text in line:
                return line

    def finish(self, timeout: float = 120.0) -> tuple[int, str]:
        """Its exit status and everything it printed."""
        status = self.proc.wait(timeout)
        self.reader.join(10.0)  # it ends at the end of the output
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return status, "".join(self.output)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def started(demo: Running) -> tuple[set[str], Path]:
    """The demo's namespaces and its directory, from its first lines."""
    names = re.search(r"namespaces (\S+) \(the server\) and (\S+) ",
                      demo.wait_for("namespaces "))
    base = re.search(r"\((/tmp/nethook-demo-[^/]+)/", demo.wait_for("the declared state"))
    assert names and base
    return {names.group(1), names.group(2)}, Path(base.group(1))


def processes_of(base: Path) -> list[int]:
    """Processes whose command line or environment names the demo's directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            text = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if str(base).encode() in text:
            found.append(int(entry.name))
    return found


def assert_nothing_left(namespaces: set[str], base: Path) -> None:
    assert not namespaces & namespace_names()
    assert processes_of(base) == []
    assert not base.exists()
    assert host_mount_leaks() == []


def test_the_demo_shows_hooks_and_the_watcher_restoring() -> None:
    demo = Running()
    try:
        namespaces, base = started(demo)
        status, output = demo.finish()
    finally:
        demo.kill()
    assert status == 0, output
    assert re.search(r"dhclient BOUND eth0: restored 3: ip -4 address add 10\.77\.0\.50/24",
                     output), output
    # the alias and the rule come back, in one run or two (the watcher runs as soon as
    # the socket has nothing pending, and the demo deletes them with two commands)
    restored = re.findall(r"netlink removal eth0: restored (\d+):", output)
    assert sum(int(n) for n in restored) == 2, output
    assert "eth0@if2         UP             10.77.0.11/24 10.77.0.50/24 10.77.0.51/24" in output
    assert re.search(r"^NETHOOK OK - 4 object\(s\) kept, all present \|", output, re.M), output
    assert "cleaned up:" in output
    assert_nothing_left(namespaces, base)


@pytest.mark.parametrize("signum, during", [
    (signal.SIGINT, "the DHCP server hands this server a new address"),
    (signal.SIGTERM, "nethook watch: a loss no hook reports"),
    (signal.SIGHUP, "dhclient starts and binds"),
], ids=["SIGINT-lease-change", "SIGTERM-watcher", "SIGHUP-first-lease"])
def test_a_stopped_demo_leaves_nothing_behind(signum: int, during: str) -> None:
    demo = Running()
    try:
        namespaces, base = started(demo)
        demo.wait_for(during)
        demo.proc.send_signal(signum)
        status, output = demo.finish(60.0)
    finally:
        demo.kill()
    assert status == 130, output
    assert "interrupted" in output and "Traceback" not in output, output
    assert_nothing_left(namespaces, base)
