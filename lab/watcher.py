"""``nethook watch`` as a process of one test, told apart from everything else by its PID.

It runs this checkout with the test's interpreter inside a network namespace (``ip netns
exec`` execs, so the PID is the watcher's own), with a test's ``NethookDirs``, and with
``$NOTIFY_SOCKET`` pointing at a datagram socket of the test's: the test waits for
``READY=1`` exactly as systemd would, and sees ``RELOADING=1``, ``STOPPING=1`` and
``WATCHDOG=1``. Stopped with SIGTERM (then SIGKILL) by PID, always.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, List, Optional, Sequence, Type

from lab.nethook_env import NethookDirs, without_modules
from lab.procs import terminate

READY_TIMEOUT = 30.0


class WatcherError(RuntimeError):
    pass


class Watcher:
    def __init__(self, dirs: NethookDirs, netns: str, *, dbus_address: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None, args: Sequence[str] = ("-v",),
                 python: str = sys.executable, without: Sequence[str] = ()) -> None:
        self.dirs = dirs
        self.python = python
        self.without = tuple(without)  # modules it cannot import (lab.nethook_env)
        self.netns = netns
        self.dbus_address = dbus_address
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.log_path = dirs.base / "watch.log"
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.notices: List[str] = []
        # A short directory of its own: unix socket paths have 107 bytes at most.
        self._notify_dir = Path(tempfile.mkdtemp(prefix="nhw-n-", dir="/tmp"))
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._notify.bind(str(self._notify_dir / "notify"))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def argv(self) -> List[str]:
        dbus = [] if self.dbus_address else ["--no-dbus"]
        nethook = (without_modules(self.python, self.without) if self.without
                   else [self.python, "-m", "nethook"])
        return ["ip", "netns", "exec", self.netns, *nethook, "watch", *dbus, *self.args]

    def start(self) -> Watcher:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **self.dirs.env(),
               "NOTIFY_SOCKET": str(self._notify_dir / "notify"), **self.extra_env}
        if self.dbus_address:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = self.dbus_address
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        self.wait_notice("READY=1", READY_TIMEOUT)
        return self

    def wait_notice(self, wanted: str, timeout: float) -> str:
        """The next datagram on the notify socket holding ``wanted`` (as a line)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WatcherError(f"no {wanted} from the watcher within {timeout} s; "
                                   f"log:\n{self.log()[-3000:]}")
            if self.proc is not None and self.proc.poll() is not None:
                raise WatcherError(f"the watcher exited ({self.proc.returncode}); "
                                   f"log:\n{self.log()[-3000:]}")
            self._notify.settimeout(min(left, 0.2))
            try:
                text = self._notify.recv(4096).decode()
            except socket.timeout:
                continue
            self.notices.append(text)
            if wanted in text.splitlines():
                return text

    def reload(self) -> str:
        """SIGHUP, and the READY=1 that ends the reload."""
        os.kill(self.pid, signal.SIGHUP)
        self.wait_notice("RELOADING=1", 10.0)
        return self.wait_notice("READY=1", 10.0)

    def stop(self) -> int:
        """SIGTERM (SIGKILL after 10 s); the exit status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                terminate(self.proc)
                raise WatcherError("the watcher did not stop within 10 s of SIGTERM") from None
        self._drain()
        return self.proc.returncode

    def _drain(self) -> None:
        """Every datagram still queued, into ``notices``."""
        self._notify.setblocking(False)
        try:
            while True:
                self.notices.append(self._notify.recv(4096).decode())
        except BlockingIOError:
            pass
        finally:
            self._notify.setblocking(True)

    def close(self) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                terminate(self.proc, 10.0)
        finally:
            self._notify.close()
            shutil.rmtree(self._notify_dir, ignore_errors=True)

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def usage(self) -> Dict[str, float]:
        """Resident memory now and at its peak (MB), and CPU time used so far (ms)."""
        fields = dict(line.split(":", 1) for line in
                      Path(f"/proc/{self.pid}/status").read_text().splitlines() if ":" in line)
        stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return {"rss_mb": int(fields["VmRSS"].split()[0]) * 1024 / 1e6,
                "peak_rss_mb": int(fields["VmHWM"].split()[0]) * 1024 / 1e6,
                "cpu_ms": (int(stat[11]) + int(stat[12])) * 1000 / ticks}

    def status(self) -> Dict[str, Any]:
        from nethook.watch.client import call

        return call(self.dirs.run, {"op": "status"}, timeout=5.0)

    def __enter__(self) -> Watcher:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, kind: Optional[Type[BaseException]], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()


def outage_windows(events: Sequence[Any], ips: Sequence[str]) -> Optional[Dict[str, float]]:
    """Milliseconds from each address's first deletion to its next addition, read from
    ``ip -ts monitor address`` events (``lab.dhcp_lab.parse_monitor``); None while
    one of them is not back yet."""
    windows: Dict[str, float] = {}
    for ip in ips:
        mentions = [e for e in events if f"inet {ip}/" in e.text or f"inet6 {ip}/" in e.text]
        gone = next((i for i, e in enumerate(mentions) if e.deleted), None)
        if gone is None:
            return None
        back = next((e for e in mentions[gone + 1:] if not e.deleted), None)
        if back is None:
            return None
        windows[ip] = (back.time - mentions[gone].time).total_seconds() * 1000
    return windows
