"""Restore at scale, the fixed and per-address cost, and the peak memory of a restore.

For each N, every object of the workload is missing and one of three methods puts them
all back, timed by the timing child from spawn to reaped exit (wall clock), with the
CPU time and peak RSS ``wait4`` reports:

* ``nethook``: the shipped dhclient exit shim, sourced by ``sh`` with a BOUND
  environment; it runs ``/usr/bin/nethook hook dhclient-exit`` (the wrapper) as
  dhclient-script would. A fresh Python process: startup, imports, config, observe,
  plan, apply, journal.
* ``shell_loop``: one ``ip`` process per object, what administrators write today.
* ``ip_batch``: one ``ip -batch`` file, the practical floor.

Before every run the same batch file removes every object (not timed), and after every
run ``ip -j`` must show exactly the workload (``converged``). Each repetition runs the
three methods in a rotated order; one untimed warm-up repetition comes first. The
configuration is written ``RACY_NS`` before the warm-up, which caches it as a hook on a
real host finds it (``nethook.engine.declared_cache``); each sample says whether the run
read the cache.

The fixed and per-address costs are the least-squares line through the CPU medians
over N up to 1000, for nethook and for ``ip -batch``. Beyond, the kernel's own cost per
address grows with the addresses on the interface (``ip -batch``'s CPU per address
triples from N=1000 to 5000): a line through N=5000 would measure the kernel.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bench.hookenv import bound_env, sourced
from bench.sandbox import TOOL_ENV, BenchError, Command, Log, Sandbox, Spawned, tool
from bench.stats import linear_fit, median_or_none, ratio, rotated, summary
from bench.workload import Workload, WorkloadFiles
from nethook.engine.declared_cache import CACHE_NAME, RACY_NS

METHODS = ("nethook", "shell_loop", "ip_batch")
FIT_MAX = 1000  # the largest N the cost line goes through (see the docstring)
LABELS = {"nethook": "nethook (exit shim, BOUND)", "shell_loop": "shell loop (1 ip per object)",
          "ip_batch": "ip -batch (floor)"}


def commands(sandbox: Sandbox, files: WorkloadFiles) -> Dict[str, Command]:
    return {
        "nethook": (sourced(sandbox.shims["dhclient-exit"]), bound_env()),
        "shell_loop": ([tool("sh"), str(files.loop)], dict(TOOL_ENV)),
        "ip_batch": ([tool("ip"), "-batch", str(files.batch)], dict(TOOL_ENV)),
    }


def prepare(sandbox: Sandbox, workload: Workload, purpose: str = "scale", *,
            present: bool = False) -> WorkloadFiles:
    """Write the workload's files and nethook's config, empty nethook's state directory;
    leave none of the workload's objects in the namespace, or (``present``) all of them."""
    files = workload.write_files(sandbox.base / f"{purpose}-{workload.n}")
    sandbox.dirs.write_config(workload.config_yaml())
    sandbox.dirs.forget()
    sandbox.ip_batch(files.breaker, force=True)
    if present:
        sandbox.ip_batch(files.batch)
    time.sleep(RACY_NS / 1e9 + 0.1)  # the next run may cache the configuration
    return files


def _cache_stamp(sandbox: Sandbox) -> Optional[Tuple[int, int]]:
    try:
        info = os.stat(sandbox.dirs.run / CACHE_NAME)
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns)


def break_state(sandbox: Sandbox, workload: Workload, files: WorkloadFiles) -> None:
    sandbox.ip_batch(files.breaker, force=True)
    left = workload.verify_absent(sandbox.ip_json)
    if left:
        raise BenchError(f"N={workload.n}: breaking the state left: {'; '.join(left)}")


def restore_once(sandbox: Sandbox, workload: Workload, files: WorkloadFiles,
                 method: str) -> Dict[str, Any]:
    """Break the state, restore it with ``method``, check it; one sample."""
    break_state(sandbox, workload, files)
    argv, env = commands(sandbox, files)[method]
    stderr = files.directory / f"{method}.stderr"
    stamp = _cache_stamp(sandbox)
    spawned = sandbox.spawn(argv, env, stderr=stderr)
    problems = workload.verify(sandbox.ip_json)
    sample = _sample(spawned, problems)
    if method == "nethook":
        sample["journal"] = _journal_facts(sandbox)
        sample["configuration_cached"] = stamp is not None and stamp == _cache_stamp(sandbox)
    if spawned.status != 0:
        sample["stderr"] = stderr.read_text(encoding="utf-8", errors="replace")[-2000:]
    return sample


def _sample(spawned: Spawned, problems: List[str]) -> Dict[str, Any]:
    return {"seconds": spawned.seconds, "status": spawned.status,
            "maxrss_kib": spawned.maxrss_kib, "user_s": round(spawned.user_s, 4),
            "system_s": round(spawned.system_s, 4), "converged": not problems,
            "problems": problems}


def _journal_facts(sandbox: Sandbox) -> Dict[str, Any]:
    """What nethook's own journal says about its last run (durations, results)."""
    entry = sandbox.dirs.last_journal_entry() or {}
    results = entry.get("results") or []
    return {"durations": entry.get("durations"), "ops": len(entry.get("plan") or []),
            "failed": sum(1 for r in results if r.get("status") == "failed"),
            "event": (entry.get("event") or {}).get("reason")}


def measure_size(sandbox: Sandbox, n: int, runs: int, log: Log) -> Dict[str, Any]:
    workload = Workload(n)
    files = prepare(sandbox, workload)
    samples: Dict[str, List[Dict[str, Any]]] = {method: [] for method in METHODS}
    try:
        for turn in range(-1, runs):  # turn -1: the warm-up, not kept
            for method in rotated(METHODS, turn):
                sample = restore_once(sandbox, workload, files, method)
                if not sample["converged"]:
                    log(f"  N={n} {method}: did not converge: {'; '.join(sample['problems'])}")
                if turn >= 0:
                    samples[method].append(sample)
    finally:
        sandbox.ip_batch(files.breaker, force=True)
    return _size_result(workload, samples)


def _size_result(workload: Workload, samples: Dict[str, List[Dict[str, Any]]]
                 ) -> Dict[str, Any]:
    methods = {}
    for method, taken in samples.items():
        entry = summary([s["seconds"] for s in taken])
        entry["label"] = LABELS[method]
        entry["converged"] = all(s["converged"] for s in taken)
        entry["cpu_median_ms"] = median_or_none(
            [(s["user_s"] + s["system_s"]) * 1000 for s in taken])
        entry["maxrss_median_kib"] = median_or_none([s["maxrss_kib"] for s in taken])
        entry["maxrss_kib"] = [s["maxrss_kib"] for s in taken]
        entry["samples"] = taken
        methods[method] = entry
    median = {m: methods[m]["median_ms"] for m in METHODS}
    return {
        "n": workload.n, "addresses": workload.n, "rules": workload.policy_count,
        "routes": workload.policy_count, "objects": workload.object_count,
        "methods": methods,
        "ratios": {"nethook_over_batch": ratio(median["nethook"], median["ip_batch"]),
                   "loop_over_nethook": ratio(median["shell_loop"], median["nethook"])},
    }


def run_scale(sandbox: Sandbox, sizes: Sequence[int], runs: int, log: Log) -> Dict[str, Any]:
    by_size = {}
    for n in sizes:
        log(f"scale: N={n} ({runs} runs of each method, after one warm-up)")
        by_size[str(n)] = measure_size(sandbox, n, runs, log)
    return {"runs": runs, "sizes": by_size, "memory": memory(by_size),
            "cost": {method: cost(by_size, method) for method in ("nethook", "ip_batch")},
            "configuration_cached": [s.get("configuration_cached") for size in by_size.values()
                                     for s in size["methods"]["nethook"]["samples"]]}


def cost(by_size: Dict[str, Dict[str, Any]], method: str) -> Optional[Dict[str, Any]]:
    """Fixed (ms) and per-address (µs) CPU cost: the line through the medians over N up
    to FIT_MAX (each address comes with 0.2 of a rule and a route)."""
    points = [(float(n), size["methods"][method]["cpu_median_ms"])
              for n, size in by_size.items()
              if size["methods"][method]["cpu_median_ms"] is not None and int(n) <= FIT_MAX]
    fitted = linear_fit(points)
    if fitted is None:
        return None
    fixed, slope = fitted
    return {"fixed_ms": round(fixed, 2), "per_address_us": round(slope * 1000, 2),
            "points": points}


def memory(by_size: Dict[str, Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Peak RSS of nethook's restore at N=1000 (the target's), else the largest N."""
    if not by_size:
        return None
    chosen = "1000" if "1000" in by_size else max(by_size, key=int)
    rss = by_size[chosen]["methods"]["nethook"]["maxrss_kib"]
    if not rss:
        return None
    return {"n": int(chosen), "peak_kib": max(rss), "median_kib": sorted(rss)[len(rss) // 2],
            "samples_kib": rss}
