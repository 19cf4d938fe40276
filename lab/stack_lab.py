"""What the NetworkManager and systemd-networkd labs share.

Each lab runs a real network stack in namespaces of its own: a DHCP server namespace and
a client namespace joined by a veth pair, a private D-Bus system bus under the lab's
directory, and the stack's dispatcher writing one line per call to a trace file. The
subclass starts its own processes (``up``) and stops them (``stop_processes``); removing
leftovers, the namespaces and the directory is shared, and runs even when ``up`` fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, List, Optional, Sequence, Type

from lab.procs import kill_and_wait

PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
TIMEOUT = 30.0


class LabError(RuntimeError):
    pass


def run(argv: Sequence[str], env: Optional[Dict[str, str]] = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), env=env or {"PATH": PATH}, capture_output=True,
                          text=True, timeout=TIMEOUT)
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done


class StackLab:
    iface = ""  # the client interface the stack manages
    client_suffix = "cli"  # the client namespace is nml-TAG-SUFFIX

    def __init__(self, *, bin_dir: Path, scripts: Sequence[Path] = ()) -> None:
        self.bin_dir = bin_dir
        self.scripts = list(scripts)
        self.tag = secrets.token_hex(3)
        self.server_ns = f"nml-{self.tag}-srv"
        self.client_ns = f"nml-{self.tag}-{self.client_suffix}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"nml-{self.tag}-", dir="/tmp"))
        self._namespaces: List[str] = []
        self._procs: Dict[str, subprocess.Popen[bytes]] = {}

    @property
    def bus_address(self) -> str:
        return f"unix:path={self.dir}/run/system_bus_socket"

    @property
    def trace(self) -> Path:
        return self.dir / "log" / "dispatcher-trace"

    def dispatched(self) -> List[List[str]]:
        """Every dispatcher call so far: [time, interface, action or state]."""
        try:
            lines = self.trace.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [line.split() + [""] * (3 - len(line.split())) for line in lines]

    def __enter__(self) -> StackLab:
        try:
            self.up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()

    def up(self) -> None:
        raise NotImplementedError

    def stop_processes(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop everything by PID, remove the namespaces and the directory."""
        try:
            self.stop_processes()
            for name in self._namespaces:
                leftovers = subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                                           text=True).stdout.split()
                kill_and_wait(int(pid) for pid in leftovers)
        finally:
            for name in self._namespaces:
                subprocess.run(["ip", "netns", "delete", name], capture_output=True)
            self._namespaces.clear()
            if os.environ.get("NETHOOK_LAB_KEEP") != "1":
                shutil.rmtree(self.dir, ignore_errors=True)

    def ip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(["ip", "-n", self.client_ns, *args])

    def addresses(self) -> List[Dict[str, Any]]:
        out = run(["ip", "-j", "-n", self.client_ns, "-4", "addr", "show", "dev", self.iface])
        return [a for link in json.loads(out.stdout or "[]") for a in link["addr_info"]]

    def lease(self) -> Optional[str]:
        """The dynamic (DHCP) address on the interface now."""
        dynamic = [a["local"] for a in self.addresses() if a.get("dynamic")]
        return dynamic[0] if dynamic else None

    def tails(self, lines: int = 25) -> str:
        parts = []
        for path in sorted((self.dir / "log").glob("*")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)
