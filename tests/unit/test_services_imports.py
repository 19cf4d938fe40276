"""The services code stays light: dbus-next (and asyncio) load only to restart a service.

Fresh interpreters, as in test_import_budget.py: this process has imported everything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = ("dbus_next", "asyncio", "pyroute2")


def heavy_after(code: str) -> str:
    probe = (f"{code}\nimport sys\n"
             f"print('heavy:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SRC)}, timeout=60, check=True)
    return proc.stdout.splitlines()[-1].removeprefix("heavy:")


def test_the_services_modules_import_nothing_heavy() -> None:
    assert heavy_after("import nethook.services.check, nethook.services.trigger, "
                       "nethook.services.status, nethook.adapters.units") == ""


def test_a_check_with_nothing_queued_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (f"from nethook.cli import main\n"
            f"print(main(['services-check', 'eth0', '--root', '{tmp_path}', "
            f"'--state-dir', '{tmp_path}/state', '--run-dir', '{tmp_path}/run']))")
    assert heavy_after(code) == ""


def test_choosing_init_scripts_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (f"from pathlib import Path\nfrom nethook.adapters.units import open_units\n"
            f"print(open_units(Path('{tmp_path}')).kind)")
    assert heavy_after(code) == ""


# services/ is policy only; daemons/ reads. Neither reaches up into the engine, the
# watcher or the command line (imports point down: cli, watch -> engine -> services).
LAYERS = {"services": ("nethook.engine", "nethook.watch", "nethook.cli", "nethook.doctor"),
          "daemons": ("nethook.engine", "nethook.watch", "nethook.cli", "nethook.doctor",
                      "nethook.services")}


def test_services_and_daemons_import_only_downwards() -> None:
    import ast

    wrong = []
    for package, forbidden in LAYERS.items():
        for path in sorted((SRC / "nethook" / package).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                wrong += [f"{path.name}: {n}" for n in names if n.startswith(forbidden)]
    assert wrong == []
