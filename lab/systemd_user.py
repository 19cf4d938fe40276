"""A real systemd manager on a private D-Bus bus, standing in for the system manager.

PID 1 here is not systemd, and ``systemd --system`` refuses to run unless it is PID 1. A
``systemd --user`` manager is the same program and exports the same
``org.freedesktop.systemd1.Manager`` interface; this recipe makes it own
``org.freedesktop.systemd1`` on a private bus that a ``dbus-daemon`` of ours serves as a
*system* bus:

1. ``dbus-daemon`` with a ``<type>system</type>`` configuration listening on a socket in
   the lab's directory (``DBUS_SYSTEM_BUS_ADDRESS`` points clients there);
2. the manager in a cgroup of its own (both hierarchies of a hybrid host, or the v2 one),
   entered into the test's network namespace with ``nsenter --net`` (not ``ip netns
   exec``, which remounts /sys and hides the cgroup mounts), in private mount and cgroup
   namespaces where a tmpfs ``/run/systemd`` holds the ``system`` directory it checks for;
3. its own ``dbus.socket``/``dbus.service`` replaced by placeholders (it connects to its
   API bus only once they run), the desktop sockets masked; it then connects to
   ``DBUS_SESSION_BUS_ADDRESS``, our private "system" bus.

Units come from ``$XDG_CONFIG_HOME/systemd/user`` and run as root in the test namespace.
Stopping the manager (SIGTERM) stops its units and removes its cgroups; whatever is left
is killed by PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import Dict, List, Optional, Type

from lab.procs import kill_and_wait, poll_until, terminate

SYSTEMD = "/lib/systemd/systemd"
CGROUP_ROOT = Path("/sys/fs/cgroup")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/> <allow own="*"/> <allow send_destination="*"/> <allow receive_sender="*"/>
  </policy>
</busconfig>
"""
MASKED = ("gpg-agent.socket", "gpg-agent-browser.socket", "gpg-agent-extra.socket",
          "gpg-agent-ssh.socket", "dirmngr.socket", "pk-debconf-helper.socket")
MANAGER_SCRIPT = (
    'for dir in "$@"; do echo $$ > "$dir/cgroup.procs" || exit 97; done; '
    'exec nsenter --net="$NETNS_PATH" unshare -m -C --propagation private sh -c '
    '"mount -t tmpfs nhs-systemd /run/systemd && mkdir /run/systemd/system && exec env -i '
    'PATH=$PATH HOME=$LAB/home XDG_RUNTIME_DIR=$LAB/run XDG_CONFIG_HOME=$LAB/config '
    'DBUS_SESSION_BUS_ADDRESS=$BUS ' + SYSTEMD + ' --user"')


def missing_requirements() -> Optional[str]:
    for path in (SYSTEMD, shutil.which("dbus-daemon"), shutil.which("busctl"),
                 shutil.which("nsenter")):
        if not path or not os.path.exists(path):
            return "systemd, dbus-daemon, busctl and nsenter are needed"
    if not _cgroup_parents():
        return f"no writable cgroup hierarchy under {CGROUP_ROOT}"
    return None


def _cgroup_parents() -> List[Path]:
    """Where the manager's cgroup goes: hybrid (unified + name=systemd) or pure v2."""
    if (CGROUP_ROOT / "unified" / "cgroup.procs").exists():
        return [CGROUP_ROOT / "unified", CGROUP_ROOT / "systemd"]
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [CGROUP_ROOT]
    return []


class UserManager:
    """``with UserManager(netns, units) as systemd:`` runs the manager, then stops it."""

    def __init__(self, netns: str, units: Dict[str, str]) -> None:
        # A short directory: sockets under XDG_RUNTIME_DIR must fit in sun_path.
        self.base = Path(tempfile.mkdtemp(prefix="nhs-", dir="/tmp"))
        self.netns = netns
        self.units = units
        self.bus = self.base / "bus"
        self.cgroups = [parent / f"nhs-{uuid.uuid4().hex[:10]}" for parent in _cgroup_parents()]
        self._dbus: Optional[subprocess.Popen[bytes]] = None
        self._manager: Optional[subprocess.Popen[bytes]] = None

    @property
    def address(self) -> str:
        return f"unix:path={self.bus}"

    @property
    def env(self) -> Dict[str, str]:
        """What a client of this "system" bus needs in its environment."""
        return {"DBUS_SYSTEM_BUS_ADDRESS": self.address}

    def __enter__(self) -> UserManager:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.close()

    def _write_files(self) -> None:
        units = self.base / "config" / "systemd" / "user"
        for sub in ("default.target.wants", "sockets.target.wants"):
            (units / sub).mkdir(parents=True)
        for name in ("run", "home"):
            (self.base / name).mkdir(mode=0o700)
        (units / "dbus.socket").write_text("[Socket]\nListenStream=%t/placeholder-bus\n")
        (units / "dbus.service").write_text("[Service]\nExecStart=/bin/sleep infinity\n")
        (units / "sockets.target.wants" / "dbus.socket").symlink_to("../dbus.socket")
        (units / "default.target.wants" / "dbus.service").symlink_to("../dbus.service")
        for name in MASKED:
            (units / name).symlink_to("/dev/null")
        for name, text in self.units.items():
            (units / name).write_text(text)
        (self.base / "bus.conf").write_text(BUS_CONF.format(socket=self.bus))

    def _start(self) -> None:
        self._write_files()
        self._dbus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={self.base / 'bus.conf'}", "--nofork",
             "--nopidfile"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={"PATH": PATH}, start_new_session=True)
        if not poll_until(self.bus.exists, 10):
            raise RuntimeError("dbus-daemon did not create its socket")
        for cgroup in self.cgroups:
            cgroup.mkdir()
        env = {"PATH": PATH, "LAB": str(self.base), "BUS": self.address,
               "NETNS_PATH": f"/run/netns/{self.netns}"}
        log = (self.base / "systemd.log").open("wb")
        self._manager = subprocess.Popen(
            ["sh", "-c", MANAGER_SCRIPT, "nhs-manager", *map(str, self.cgroups)],
            stdout=log, stderr=log, env=env, start_new_session=True)
        log.close()
        if not poll_until(lambda: self._owned() or self._manager.poll() is not None, 15,
                          interval=0.05) or not self._owned():
            raise RuntimeError("systemd --user did not take org.freedesktop.systemd1: "
                               + (self.base / "systemd.log").read_text(errors="replace"))

    def _owned(self) -> bool:
        answer = self.busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "NameHasOwner", "s",
                             "org.freedesktop.systemd1", check=False)
        return answer.strip() == "b true"

    def busctl(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["busctl", "--system", *args], capture_output=True, text=True,
                              env={"PATH": PATH, **self.env}, timeout=30, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"busctl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def manager_call(self, method: str, *args: str) -> str:
        return self.busctl("call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                           "org.freedesktop.systemd1.Manager", method, *args)

    def unit_property(self, unit: str, interface: str, name: str) -> str:
        path = self.manager_call("LoadUnit", "s", unit).split()[1].strip('"')
        return self.busctl("get-property", "org.freedesktop.systemd1", path,
                           f"org.freedesktop.systemd1.{interface}", name).strip()

    def active_state(self, unit: str) -> str:
        return self.unit_property(unit, "Unit", "ActiveState").split()[1].strip('"')

    def main_pid(self, unit: str) -> int:
        return int(self.unit_property(unit, "Service", "MainPID").split()[1])

    def run_job(self, method: str, unit: str, expect: str, timeout: float = 15) -> None:
        """StartUnit, StopUnit or RestartUnit, as an administrator's systemctl would, and
        wait for the unit's ActiveState."""
        self.manager_call(method, "ss", unit, "replace")
        if not poll_until(lambda: self.active_state(unit) == expect, timeout, interval=0.05):
            raise RuntimeError(f"{method} {unit}: still {self.active_state(unit)}")

    def close(self) -> None:
        if self._manager is not None and self._manager.poll() is not None:
            log = (self.base / "systemd.log").read_text(errors="replace")[-4000:]
            print(f"systemd --user had exited ({self._manager.returncode}):\n{log}",
                  file=sys.stderr)
        if self._manager is not None and self._manager.poll() is None:
            terminate(self._manager, timeout=15)  # SIGTERM: it stops its units first
        for cgroup in self.cgroups:
            leftovers = [int(p) for p in _procs_below(cgroup)]
            if leftovers:
                kill_and_wait(leftovers)
            for directory in sorted(_dirs_below(cgroup), key=lambda p: -len(p.parts)):
                with contextlib.suppress(OSError):
                    directory.rmdir()
        if self._dbus is not None:
            terminate(self._dbus)
        shutil.rmtree(self.base, ignore_errors=True)


def _dirs_below(cgroup: Path) -> List[Path]:
    return [cgroup, *(p for p in cgroup.rglob("*") if p.is_dir())] if cgroup.exists() else []


def _procs_below(cgroup: Path) -> List[str]:
    found: List[str] = []
    for directory in _dirs_below(cgroup):
        with contextlib.suppress(OSError):
            found += (directory / "cgroup.procs").read_text().split()
    return found
