"""nethook as the shipped shims see it in a test: a ``/usr/bin/nethook`` of the test's own.

The shims in ``hooks/`` run ``/usr/bin/nethook`` by absolute path, and dhclient (like
ifupdown, NetworkManager and networkd-dispatcher) gives them only its own environment. So
the program a test lays over ``/usr/bin`` (an overlay in a private mount namespace, see
:class:`lab.dhcp_lab.Mount`) is a small wrapper script that sets every ``NETHOOK_*``
path to the test's directories and runs this checkout with the interpreter running the
tests (tox's, with its pyroute2)::

    dirs = NethookDirs.create(tmp_path, config=CONFIG)
    bin_dir = dirs.wrapper()                   # bin_dir/nethook
    Mount(str(bin_dir), "/usr/bin", "overlay")

Nothing here touches the host's /etc, /var/lib/nethook or /run/nethook: ``NETHOOK_ROOT``
is an empty directory of the test's, and the configuration is always given explicitly.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
HOOKS = REPO / "hooks"

# Where each shipped shim goes, and how its caller runs it.
DEBIAN_ENTER = HOOKS / "dhclient-enter-hooks.d" / "nethook"  # sourced by dhclient-script
DEBIAN_EXIT = HOOKS / "dhclient-exit-hooks.d" / "nethook"  # sourced by dhclient-script
RHEL = HOOKS / "dhclient.d" / "nethook.sh"  # sourced by RHEL's script, functions called
NETWORKMANAGER = HOOKS / "NetworkManager" / "50-nethook"  # executed by nm-dispatcher
IFUPDOWN = HOOKS / "if-up.d" / "nethook"  # executed by run-parts
NETWORKD = HOOKS / "networkd-dispatcher" / "50-nethook"  # executed by networkd-dispatcher
SOURCED_SHIMS = (DEBIAN_ENTER, DEBIAN_EXIT)
EXECUTED_SHIMS = (NETWORKMANAGER, IFUPDOWN, NETWORKD)
ALL_SHIMS = (*SOURCED_SHIMS, RHEL, *EXECUTED_SHIMS)

_RUN = """\
#!/bin/sh
# /usr/bin/nethook for one test (lab/nethook_env.py): this checkout, the test's dirs.
printf 'call argc=%s %s\\n' "$#" "$*" >> {calls}
NETHOOK_CONFIG={config}
NETHOOK_ROOT={root}
NETHOOK_STATE_DIR={state}
NETHOOK_RUN_DIR={run}
PYTHONPATH={src}
PYTHONDONTWRITEBYTECODE=1
export NETHOOK_CONFIG NETHOOK_ROOT NETHOOK_STATE_DIR NETHOOK_RUN_DIR PYTHONPATH
export PYTHONDONTWRITEBYTECODE
exec {python} -m nethook "$@"{stderr}
"""

# A nethook that never returns and ignores SIGTERM: only SIGKILL (timeout -k) ends it.
_HANG = """\
#!/bin/sh
# /usr/bin/nethook that hangs (lab/nethook_env.py).
printf 'call argc=%s %s\\n' "$#" "$*" >> {calls}
trap '' TERM HUP INT
while :; do sleep 1; done
"""


# `python -c` code running the nethook command with some modules unimportable, as on a
# system without their packages: with `sys.modules[NAME] = None`, `import NAME` raises
# ModuleNotFoundError. argv: the module names (comma-separated), then nethook's own.
_WITHOUT = """\
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from nethook.cli import main
sys.exit(main(sys.argv[2:]))
"""


def without_modules(python: str, modules: Sequence[str], *args: str) -> list[str]:
    """argv running ``nethook ARGS`` with ``python``, ``modules`` made unimportable."""
    return [python, "-c", _WITHOUT, ",".join(modules), *args]


@contextmanager
def temporary_dirs(prefix: str, config: str | None = None) -> Iterator[NethookDirs]:
    """NethookDirs in a short directory of its own under /tmp (unix socket paths have
    107 bytes at most), removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield NethookDirs.create(base, config)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@dataclass(frozen=True)
class NethookDirs:
    """The directories one test gives nethook through ``NETHOOK_*``."""

    base: Path

    @property
    def config(self) -> Path:
        """``NETHOOK_CONFIG``: a directory of ``*.yaml`` fragments (empty: no config)."""
        return self.base / "config"

    @property
    def root(self) -> Path:
        """``NETHOOK_ROOT``: empty, so that no file of the host is ever read."""
        return self.base / "root"

    @property
    def state(self) -> Path:
        return self.base / "state"

    @property
    def run(self) -> Path:
        return self.base / "run"

    @property
    def calls(self) -> Path:
        """One line per execution of the wrapper: proof that a shim called nethook."""
        return self.base / "calls"

    @property
    def stderr_log(self) -> Path:
        return self.base / "nethook-stderr.log"

    @classmethod
    def create(cls, base: Path, config: str | None = None) -> NethookDirs:
        dirs = cls(base)
        for path in (dirs.config, dirs.root, dirs.state, dirs.run):
            path.mkdir(parents=True, exist_ok=True)
        if config is not None:
            dirs.write_config(config)
        return dirs

    def write_config(self, text: str, name: str = "nethook.yaml") -> Path:
        path = self.config / name
        path.write_text(text, encoding="utf-8")
        return path

    def env(self) -> dict[str, str]:
        """The variables the wrapper sets, for running ``python -m nethook`` directly."""
        return {"NETHOOK_CONFIG": str(self.config), "NETHOOK_ROOT": str(self.root),
                "NETHOOK_STATE_DIR": str(self.state), "NETHOOK_RUN_DIR": str(self.run),
                "PYTHONPATH": str(SRC), "PYTHONDONTWRITEBYTECODE": "1"}

    def command(self, netns: str, *args: str,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``nethook ARGS`` (this checkout) in network namespace ``netns``, with these
        directories and ``env`` (a hook's variables, say) added."""
        return subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-m", "nethook",
                               *args], env={"PATH": os.environ["PATH"], **self.env(),
                                            **(env or {})},
                              capture_output=True, text=True, timeout=60)

    def wrapper(self, kind: str = "run", *, log_stderr: bool = False,
                name: str = "bin") -> Path:
        """A directory to lay over /usr/bin holding ``nethook`` of ``kind``.

        ``run`` runs this checkout with the test's directories (its stderr appended to
        :attr:`stderr_log` with ``log_stderr``); ``hang`` never exits and ignores SIGTERM;
        ``absent`` is an overlayfs whiteout, which hides a /usr/bin/nethook the host may
        have, as if the package had been removed.
        """
        directory = self.base / name
        directory.mkdir(exist_ok=True)
        target = directory / "nethook"
        if kind == "absent":
            os.mknod(target, stat.S_IFCHR | 0o600, os.makedev(0, 0))
            return directory
        quote = shlex.quote
        if kind == "run":
            text = _RUN.format(
                calls=quote(str(self.calls)), config=quote(str(self.config)),
                root=quote(str(self.root)), state=quote(str(self.state)),
                run=quote(str(self.run)), src=quote(str(SRC)), python=quote(sys.executable),
                stderr=f" 2>> {quote(str(self.stderr_log))}" if log_stderr else "")
        elif kind == "hang":
            text = _HANG.format(calls=quote(str(self.calls)))
        else:
            raise ValueError(f"unknown wrapper kind {kind!r}")
        target.write_text(text, encoding="utf-8")
        target.chmod(0o755)
        return directory

    def call_count(self) -> int:
        try:
            text = self.calls.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return 0
        return sum(1 for line in text.splitlines() if line.startswith("call argc="))

    def journal(self) -> list[dict[str, Any]]:
        """Every line of STATE_DIR/journal.jsonl, parsed (a bad line fails the test)."""
        path = self.state / "journal.jsonl"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines()]

    def snapshot(self, ifname: str, *, consumed: bool = False) -> dict[str, Any] | None:
        """The fresh snapshot, or with ``consumed`` the one hooks already restored in full."""
        folder = self.run / "snapshot" / ("restored" if consumed else "")
        path = folder / f"{ifname}.json"
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data


def reconcile_runs(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The journal entries of runs that planned (snapshot/teardown entries have "action")."""
    return [entry for entry in journal if "plan" in entry]


def install_shim(shim: Path, directory: Path, name: str | None = None,
                 mode: int | None = None) -> Path:
    """Copy a shipped shim byte for byte (keeping its mode unless ``mode`` is given)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / (name or shim.name)
    shutil.copyfile(shim, target)
    target.chmod(stat.S_IMODE(shim.stat().st_mode) if mode is None else mode)
    return target


def lab_config(*, policy: bool = False, snapshot: bool = True) -> str:
    """The YAML the hook tests declare: eth0's two aliases, with ``policy`` also the
    table-100 default route and the rule from the first alias that leads there."""
    lines = ["version: 1", *([] if snapshot else ["snapshot: false"]),
             "interfaces:", "  eth0:", "    addresses:",
             '      - {address: 10.77.0.50/24, label: "eth0:0"}',
             '      - {address: 10.77.0.51/24, label: "eth0:1"}']
    if policy:
        lines += ["    routes:", "      - {to: default, via: 10.77.0.1, table: 100}",
                  "    routing-policy:",
                  "      - {from: 10.77.0.50, table: 100, priority: 1000}"]
    return "\n".join(lines) + "\n"
