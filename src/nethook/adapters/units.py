"""Restarting and reloading services: the unit-manager port and the init-script adapter.

Under systemd (``ROOT/run/systemd/system`` exists, as sd_booted(3) checks) the adapter is
:class:`nethook.adapters.systemd_dbus.SystemdUnits`, the only module that imports dbus-next,
and only when a service must actually be restarted. Otherwise :class:`InitScripts` runs
``service NAME try-restart`` (or ``condrestart``, or ``reload``), whichever the script
offers. Neither ever starts a service that was not running: systemd's ``TryRestartUnit`` and
``ReloadOrTryRestartUnit`` leave a stopped unit stopped, and the callers act only on a unit
that is active (or, for init scripts, on a daemon they found running).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Sequence

from nethook.model.ports import JobResult, UnitManager, UnitState

log = logging.getLogger(__name__)

SYSTEMD_BOOTED = "run/systemd/system"  # under the root, as sd_booted(3) tests it
INIT_DIR = "etc/init.d"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
COMMAND_TIMEOUT = 60.0
def open_units(root: Path) -> UnitManager:
    """The unit manager of the system under ``root``."""
    if (root / SYSTEMD_BOOTED).is_dir():
        from nethook.adapters.systemd_dbus import SystemdUnits

        return SystemdUnits()
    return InitScripts(root)


def script_name(unit: str) -> str:
    return unit[: -len(".service")] if unit.endswith(".service") else unit


class InitScripts:
    """SysV init scripts, through ``service`` (or the script itself where there is none).

    Scripts run only on the live system: with another ``--root`` (a chroot being inspected,
    a test) nothing is executed.
    """

    kind = "init scripts"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _script(self, name: str) -> Path:
        return self.root / INIT_DIR / name

    def find(self, candidates: Sequence[str], pid: Optional[int]) -> Optional[UnitState]:
        for unit in candidates:
            name = script_name(unit)
            if self._script(name).is_file():
                return UnitState(name, "running" if pid is not None else "unknown")
        return None

    def _action(self, name: str, wanted: Sequence[str]) -> Optional[str]:
        try:
            text = self._script(name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        return next((a for a in wanted if re.search(rf"(^|[\s|(]){a}[\s|)]", text, re.M)),
                    None)

    def _run(self, name: str, action: str) -> JobResult:
        if self.root != Path("/"):
            return JobResult(False, f"not running init script {name}: the root is "
                                    f"{self.root}, and scripts run only on the live system")
        service = shutil.which("service", path=PATH)
        argv = [service, name, action] if service else [str(self._script(name)), action]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=COMMAND_TIMEOUT, check=False,
                                  env={"PATH": PATH})
        except (OSError, subprocess.TimeoutExpired) as exc:
            return JobResult(False, f"{' '.join(argv)}: {exc}")
        output = (done.stdout + done.stderr).strip().splitlines()
        detail = f"{' '.join(argv)}: exit status {done.returncode}"
        return JobResult(done.returncode == 0, detail + (f": {output[-1]}" if output else ""))

    def try_restart(self, unit: str) -> JobResult:
        name = script_name(unit)
        action = self._action(name, ("try-restart", "condrestart"))
        if action is None:
            return JobResult(False, f"init script {name} has neither try-restart nor "
                                    "condrestart; not restarting it")
        return self._run(name, action)

    def reload_or_try_restart(self, unit: str) -> JobResult:
        name = script_name(unit)
        if self._action(name, ("reload",)) is not None:
            return self._run(name, "reload")
        return self.try_restart(unit)
