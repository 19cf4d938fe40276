"""Hooks decide cheaply, and restore with what they need only.

The paths that do not reconcile import none of the heavy modules. The restore path itself
(a hook's restore and snapshot, the CLI's apply) imports no pyroute2, asyncio, ssl or
dbus-next, and nothing beyond the list below. Each check runs in a fresh interpreter,
because this test process has imported everything already.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = ("pyroute2", "dbus_next", "asyncio", "yaml")
NEVER_TO_RESTORE = ("pyroute2", "asyncio", "ssl", "dbus_next")
# Every top-level module the restore path may load beyond those the interpreter loaded at
# its start (``_json``, ``_socket``, ...: the private ones belong to a listed one). A new
# import of nethook's shows up here first: put it on the list, or do without it.
RESTORE_MAY_IMPORT = frozenset({
    "nethook", "yaml", "cython_runtime",  # PyYAML, and its C loader's runtime
    "argparse", "array", "ast", "atexit", "base64", "binascii", "bisect", "bz2",
    "collections", "contextlib", "copy", "copyreg", "dataclasses", "datetime", "difflib",
    "dis", "enum", "errno", "fcntl", "fnmatch", "functools", "gettext", "glob", "heapq",
    "importlib", "inspect", "ipaddress", "itertools", "json", "keyword", "linecache",
    "locale", "logging", "lzma", "math", "ntpath", "opcode", "operator", "pathlib",
    "pickle", "queue", "random", "re", "reprlib", "select", "selectors", "shlex", "shutil",
    "signal", "socket", "string", "struct", "subprocess", "tempfile", "textwrap",
    "threading", "token", "tokenize", "traceback", "types", "typing", "urllib", "warnings",
    "weakref", "zlib",
    "annotationlib",  # Python 3.14's typing
})

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


RESTORE_PROBE = """
import sys
startup = set(sys.modules)
from nethook.cli import main
status = main(sys.argv[1:])
print("\\nloaded:", status, " ".join(sorted({m.split(".")[0] for m in sys.modules} - startup)))
"""


@pytest.mark.parametrize("argv, env", [
    (["hook", "dhclient-exit"], {"reason": "BOUND", "interface": "nhbudget0"}),
    (["hook", "dhclient-enter"], {"reason": "RENEW", "interface": "nhbudget0",
                                  "new_ip_address": "192.0.2.10"}),
    (["apply"], {}),
])
def test_the_restore_path_imports_only_what_it_needs(argv: list[str], env: dict[str, str],
                                                    tmp_path: Path) -> None:
    """The interface does not exist: the kernel (this namespace's) is only read, the run
    is planned and recorded, and nothing is applied."""
    from lab.nethook_env import NethookDirs

    dirs = NethookDirs.create(tmp_path, "version: 1\ninterfaces:\n  nhbudget0:\n"
                                        "    addresses: [192.0.2.77/32]\n")
    proc = subprocess.run([sys.executable, "-c", RESTORE_PROBE, *argv], capture_output=True,
                          text=True, env={**dirs.env(), **env}, timeout=60, check=True)
    status, *loaded = proc.stdout.rsplit("loaded:", 1)[1].split()
    assert not set(loaded) & set(NEVER_TO_RESTORE), proc.stderr
    public = {name for name in loaded if not name.startswith("_")}
    assert public - RESTORE_MAY_IMPORT == set()
    if argv[0] == "apply":
        assert status == "1"  # incomplete: the interface is absent
    assert [e["event"]["reason"] for e in dirs.journal()] == [env.get("reason", "apply")]


def test_a_hook_with_the_configuration_cached_loads_no_yaml(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The configuration as an earlier run cached it: neither PyYAML nor the schema is
    loaded, nor any importer (the cache knows that no distro source is present)."""
    import os
    import time

    from lab.nethook_env import NethookDirs
    from nethook.base.context import RunContext
    from nethook.engine import declared_cache
    from nethook.engine.desired import assemble

    dirs = NethookDirs.create(tmp_path, "version: 1\ninterfaces:\n  nhbudget0:\n"
                                        "    addresses: [192.0.2.77/32]\n")
    then = time.time() - 60  # edited long ago; RACY_NS 0: ctime need not be old either
    for path in [dirs.base, *dirs.base.rglob("*")]:
        os.utime(path, (then, then))
    monkeypatch.setattr(declared_cache, "RACY_NS", 0)
    assemble(RunContext.from_options(dirs.env()))
    assert (dirs.run / declared_cache.CACHE_NAME).is_file()
    env = {**dirs.env(), "reason": "BOUND", "interface": "nhbudget0"}
    probe = RESTORE_PROBE.replace('m.split(".")[0] for m in sys.modules', "m for m in sys.modules")
    proc = subprocess.run([sys.executable, "-c", probe, "hook", "dhclient-exit"],
                          capture_output=True, text=True, env=env, timeout=60, check=True)
    _status, *loaded = proc.stdout.rsplit("loaded:", 1)[1].split()
    assert not {"yaml", "nethook.config.schema", "nethook.importers"} & set(loaded), proc.stderr
    assert [e["event"]["reason"] for e in dirs.journal()] == ["BOUND"]
