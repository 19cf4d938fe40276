"""Hooks decide cheaply: the paths that do not reconcile never import the heavy modules.

Each check runs in a fresh interpreter, because this test process has imported
everything already.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = ("pyroute2", "dbus_next", "asyncio", "yaml")

PROBE = """
import os, sys
os.environ.clear()
os.environ.update({env})
from nethook.cli import main
status = main({argv})
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(status, ",".join(heavy))
"""


def probe(argv: list[str], env: dict[str, str]) -> str:
    code = PROBE.format(env=env, argv=argv, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SRC)}, timeout=60, check=True)
    return proc.stdout.strip()


def test_importing_the_cli_is_light() -> None:
    code = f"import sys, nethook.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SRC)}, timeout=60, check=True)
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("argv, env", [
    (["hook", "dhclient-exit"], {"reason": "PREINIT", "interface": "eth0"}),
    (["hook", "dhclient-enter"], {"reason": "MEDIUM", "interface": "eth0"}),
    (["hook", "networkmanager", "eth0", "hostname"], {}),
    (["hook", "ifupdown"], {"IFACE": "--all", "MODE": "start", "ADDRFAM": "meta"}),
    (["hook", "networkd"], {"IFACE": "eth0", "STATE": "degraded"}),
])
def test_an_irrelevant_event_imports_nothing_heavy(argv: list[str], env: dict[str, str]) -> None:
    assert probe(argv, env) == "0"


@pytest.mark.parametrize("argv, env", [
    (["hook", "dhclient-exit"], {"reason": "BOUND", "interface": "eth0"}),
    (["hook", "dhclient-enter"], {"reason": "EXPIRE", "interface": "eth0"}),
    (["hook", "networkmanager", "eth0", "up"], {}),
])
def test_handing_an_event_to_the_watcher_imports_nothing_heavy(
        argv: list[str], env: dict[str, str], tmp_path: Path) -> None:
    from tests.unit.test_watch_client import FakeWatcher

    run_dir = tmp_path / "run"
    with FakeWatcher(run_dir) as watcher:
        assert probe(argv, {**env, "NETHOOK_RUN_DIR": str(run_dir)}) == "0"
    assert [r["event"]["ifname"] for r in watcher.requests] == ["eth0"]
