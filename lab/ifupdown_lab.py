"""The real ifup/ifdown inside a :class:`DhcpLab` client namespace.

ifupdown hard-codes ``/etc/network/if-*.d`` and its ``inet dhcp`` method
hard-codes ``/run/dhclient.<iface>.pid`` and ``/var/lib/dhcp``, so ifup and
ifdown run wrapped like dhclient (lab/dhcp_lab.py), with two more
bind mounts: ``$LAB/network`` over ``/etc/network`` and ``$LAB/run/ifrun``
over ``/run``.  The dhclient that ``ifup`` starts daemonises and stays in that
private mount namespace; ``ifdown`` finds it through the pid file in
``$LAB/run/ifrun`` and runs ``dhclient -r``.  :meth:`DhcpLab.close` kills
whatever is left in the namespaces.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .dhcp_lab import DhcpLab, LabError, Mount
from .hooks import read_env0

PHASE_DIRS = ("if-pre-up.d", "if-up.d", "if-down.d", "if-post-down.d")

# An executable run by run-parts.  It prints the environment with `env -0`,
# evaluating nothing, into a file named after the interface and phase.
_CAPTURE_SCRIPT = """\
#!/bin/sh
# nethook lab: record the environment ifupdown gives to if-*.d scripts.
env -0 > "/etc/network/lab-env/$IFACE.$PHASE.env0"
"""


class IfupdownLab:
    """Run ``ifup``/``ifdown`` for interfaces defined in the lab's own files."""

    def __init__(self, lab: DhcpLab, *, capture_env: bool = True) -> None:
        self.lab = lab
        self.network_dir = lab.dir / "network"
        self.run_dir = lab.dir / "run" / "ifrun"
        self.state_dir = lab.dir / "run" / "ifupdown"
        self.env_dir = self.network_dir / "lab-env"
        for path in (self.run_dir, self.state_dir, self.env_dir):
            path.mkdir(parents=True, exist_ok=True)
        for name in PHASE_DIRS:
            (self.network_dir / name).mkdir(exist_ok=True)
            if capture_env:
                self.install_script(name, "zz-lab-capture", _CAPTURE_SCRIPT)

    @property
    def mounts(self) -> list[Mount]:
        return [Mount(str(self.network_dir), "/etc/network"),
                Mount(str(self.run_dir), "/run")]

    def install_script(self, phase_dir: str, name: str, text: str) -> Path:
        """An executable script for ``/etc/network/<phase_dir>`` (0755)."""
        path = self.network_dir / phase_dir / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o755)
        return path

    def write_interfaces(self, text: str, name: str = "interfaces") -> str:
        """Write an interfaces(5) file; returns its path as ifup sees it."""
        (self.network_dir / name).write_text(text, encoding="utf-8")
        return f"/etc/network/{name}"

    def ifup(self, iface: str, interfaces: str = "/etc/network/interfaces",
             timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return self._run("ifup", iface, interfaces, timeout)

    def ifdown(self, iface: str, interfaces: str = "/etc/network/interfaces",
               timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return self._run("ifdown", iface, interfaces, timeout)

    def captured_env(self, iface: str, phase: str = "post-up") -> dict[str, str]:
        """The environment the if-*.d scripts got for ``iface`` in ``phase``."""
        path = self.env_dir / f"{iface}.{phase}.env0"
        if not path.exists():
            raise LabError(f"no {phase} environment captured for {iface}")
        return read_env0(path)

    def _run(self, command: str, iface: str, interfaces: str,
             timeout: float) -> subprocess.CompletedProcess[str]:
        argv = [command, "-v", "-i", interfaces, f"--state-dir={self.state_dir}", iface]
        return self.lab.run_wrapped(argv, mounts=self.mounts, timeout=timeout,
                                    log_name="ifupdown")
