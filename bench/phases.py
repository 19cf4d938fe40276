"""Where a large run's time goes: ``_phase_probe.py`` in fresh processes, medians.

The workload of size N is present (as in the no-op) and the probe times, in one fresh
process of nethook's interpreter, the phases a hook run goes through; see the probe's
docstring. This is the measurement behind the design notes in the README: what the
adapter's import and decoding cost, against pyroute2's decoding where it is installed.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Dict, List

from bench.sandbox import HOOK_PATH, BenchError, Log, Sandbox
from bench.scale import prepare
from bench.workload import Workload

PROBE = Path(__file__).resolve().with_name("_phase_probe.py")


def run_phases(sandbox: Sandbox, n: int, runs: int, log: Log) -> Dict[str, Any]:
    log(f"phases: N={n} present, {runs} fresh processes")
    files = prepare(sandbox, Workload(n), "phases", present=True)
    taken: List[Dict[str, Any]] = []
    try:
        for turn in range(runs + 1):  # the first is a warm-up
            out, err = files.directory / "probe.json", files.directory / "probe.stderr"
            spawned = sandbox.spawn([sandbox.python, str(PROBE)],
                                    {"PATH": HOOK_PATH, **sandbox.dirs.env()},
                                    stdout=out, stderr=err)
            if spawned.status != 0:
                raise BenchError(f"phase probe: exit {spawned.status}: "
                                 f"{err.read_text(encoding='utf-8', errors='replace')[-500:]}")
            if turn:
                taken.append({**json.loads(out.read_text(encoding="utf-8")),
                              "process_ms": round(spawned.seconds * 1000, 3)})
    finally:
        sandbox.ip_batch(files.breaker, force=True)
    medians = {key: round(statistics.median(float(s[key]) for s in taken), 3)
               for key in taken[0] if key.endswith("_ms") and taken[0][key] is not None}
    counts = {key: taken[0][key] for key in taken[0] if not key.endswith("_ms")}
    return {"n": n, "runs": runs, "median_ms": medians, "counts": counts, "samples": taken}
