"""``make bench``: nethook's restore speed, hook cost, outage window and memory.

Prints one table: each figure beside its baseline from the same run, and each target
(issue 17) marked PASS or MISS; writes every figure and raw sample to
bench/results/latest.json (or ``--out``). A benchmark, not a test: it exits 0 whatever
the figures, 1 when a part could not run (its error is in the JSON and under the
table), 2 when nothing can run here (not root, a tool missing).

Needs root: it creates its own network namespaces (``nhb-*``) with veth pairs and
private mount namespaces, and removes them, with what it started, when it ends.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/run.py` puts bench/, not the checkout, first
    sys.path.insert(0, str(REPO))

from bench import report  # noqa: E402
from bench.sandbox import BenchError, Sandbox, missing_requirements, run_tool  # noqa: E402

PARTS = ("scale", "noop", "irrelevant", "watcher", "outage")
DEFAULT_OUT = REPO / "bench" / "results" / "latest.json"


def _sizes(text: str) -> List[int]:
    try:
        sizes = [int(word) for word in text.split(",") if word]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes are positive numbers")
    return sizes


def _parts(text: str) -> List[str]:
    parts = [word for word in text.split(",") if word]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown part(s) {unknown}; choose from {PARTS}")
    return parts


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    p.add_argument("--parts", type=_parts, default=list(PARTS),
                   help=f"comma-separated, default all: {','.join(PARTS)}")
    p.add_argument("--sizes", type=_sizes, default=[10, 100, 1000, 5000],
                   help="restore sizes N (default 10,100,1000,5000)")
    p.add_argument("--runs", type=int, default=9, help="timed runs per restore method")
    p.add_argument("--noop-sizes", type=_sizes, default=[10, 1000])
    p.add_argument("--noop-runs", type=int, default=15)
    p.add_argument("--irrelevant-runs", type=int, default=40)
    p.add_argument("--outage-runs", type=int, default=9,
                   help="lease changes per hook set in the DHCP lab")
    p.add_argument("--watcher-sizes", type=_sizes, default=[1000],
                   help="restore sizes N for the resident watcher (default 1000)")
    p.add_argument("--watcher-runs", type=int, default=9)
    p.add_argument("--python", default=sys.executable,
                   help="the interpreter that runs nethook (default: this one)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    return p


def _capture(argv: List[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (
        done.stdout or done.stderr).strip() else "unknown"


def machine(python: str) -> Dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    version = ("import sys, importlib.metadata as m\n"
               "def v(name):\n"
               "    try:\n        return m.version(name)\n"
               "    except m.PackageNotFoundError:\n        return '-'\n"
               "print(sys.version.split()[0], v('PyYAML'))")
    python_v, yaml_v = (_capture([python, "-c", version]).split() + ["?"] * 2)[:2]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
        "python": python_v, "python_path": python, "pyyaml": yaml_v,
        "iproute2": run_tool(["ip", "-V"], check=False).stdout.strip(),
        "dhclient": _capture(["dhclient", "--version"]),
        "loadavg_start": _loadavg(),
    }


def _loadavg() -> str:
    """The 1-minute load average: other processes competing for the CPUs show here."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


class Bench:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.results: Dict[str, Any] = {"schema": 1, "machine": machine(options.python),
                                        "parameters": _parameters(options), "errors": {}}

    def log(self, line: str) -> None:
        if not self.options.quiet:
            print(line, file=sys.stderr, flush=True)

    def part(self, name: str, work: Callable[[], Dict[str, Any]]) -> None:
        started = time.monotonic()
        try:
            self.results.update(work())
        except (BenchError, OSError, subprocess.SubprocessError, RuntimeError) as exc:
            self.results["errors"][name] = f"{type(exc).__name__}: {exc}"
            self.log(traceback.format_exc())
        self.results.setdefault("seconds", {})[name] = round(time.monotonic() - started, 1)

    def run(self) -> Dict[str, Any]:
        o = self.options
        from bench import costs, scale

        wanted = set(o.parts) & {"scale", "noop", "irrelevant", "watcher"}
        if wanted:
            with Sandbox(python=o.python) as sandbox:
                self.log(f"namespace {sandbox.ns}, files in {sandbox.base}")
                if "scale" in wanted:
                    self.part("scale", lambda: {"scale": scale.run_scale(
                        sandbox, o.sizes, o.runs, self.log)})
                if "noop" in wanted:
                    self.part("noop", lambda: costs.run_noop(
                        sandbox, o.noop_sizes, o.noop_runs, self.log))
                if "irrelevant" in wanted:
                    self.part("irrelevant", lambda: {"irrelevant": costs.run_irrelevant(
                        sandbox, o.irrelevant_runs, self.log)})
                if "watcher" in wanted:
                    from bench import watcher

                    self.part("watcher", lambda: {"watcher": watcher.run_watcher(
                        sandbox, o.watcher_sizes, o.watcher_runs, self.log, o.python)})
        if "outage" in o.parts:
            from bench import outage

            self.log(f"outage: DHCP lab, {o.outage_runs} lease changes per hook set")
            self.part("outage", lambda: {"outage": outage.run_outage(
                o.outage_runs, self.log, o.python)})
        self.results["targets"] = report.targets(self.results)
        return self.results


def _parameters(options: argparse.Namespace) -> Dict[str, Any]:
    return {"parts": options.parts, "sizes": options.sizes, "runs": options.runs,
            "noop_sizes": options.noop_sizes, "noop_runs": options.noop_runs,
            "irrelevant_runs": options.irrelevant_runs, "outage_runs": options.outage_runs,
            "watcher_sizes": options.watcher_sizes, "watcher_runs": options.watcher_runs}


def write(results: Dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out)


def main(argv: Optional[List[str]] = None) -> int:
    options = parser().parse_args(argv)
    if min(options.runs, options.noop_runs, options.irrelevant_runs, options.outage_runs,
           options.watcher_runs) < 1:
        parser().error("run counts are at least 1")
    problem = missing_requirements()
    if problem:
        print(f"bench: cannot run: {problem}", file=sys.stderr)
        return 2
    started = time.monotonic()
    results = Bench(options).run()
    results["seconds"]["total"] = round(time.monotonic() - started, 1)
    results["machine"]["loadavg_end"] = _loadavg()
    write(results, options.out)
    print(report.render(results))
    print(f"(results in {options.out}; {results['seconds']['total']} s)")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
