"""The no-op and the irrelevant events: what a hook costs when there is nothing to do.

No-op: every object of the workload is present and dhclient runs RENEW of the same
address. The exit shim starts nethook, which reads its (cached) configuration, observes
the kernel and finds nothing to do. Compared with what any Python hook pays: the same
interpreter starting (``python -c pass``), and starting plus importing the modules a
restore loads (all of ``RESTORE_IMPORTS``), and importing only the standard library
modules among them (``STDLIB_IMPORTS``). The shim's own chain (``sh``, ``timeout``, the
wrapper's ``sh``) is measured with ``true`` exec'd in Python's place.

Irrelevant events: an event each shim must let pass without starting Python (dhclient's
PREINIT through the Debian enter and exit shims, NetworkManager's 11-dhclient calling
the RHEL shim, NetworkManager's ``hostname``, ifupdown's ``MODE=stop``, networkd's
``degraded``), against the same shell doing nothing (``sh -c :``, ``bash -c :``).

Runs of the no-op hook with ``PYTHONPROFILEIMPORTTIME=1`` (``-X importtime``, through the
real shim) say which imports cost what (in the JSON only).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Sequence

from bench.hookenv import (
    ifupdown_env,
    networkd_env,
    nm_dispatch,
    nm_env,
    preinit_env,
    renew_env,
    rhel_call,
    rhel_nm_env,
    sourced,
)
from bench.sandbox import (
    HOOK_PATH,
    TOOL_ENV,
    BenchError,
    Command,
    Log,
    Sandbox,
    Spawned,
    tool,
)
from bench.scale import prepare
from bench.stats import median_or_none, ratio, rotated, summary
from bench.workload import Workload

# The modules a hook's restore loads (tests/unit/test_import_budget.py keeps the list).
RESTORE_IMPORTS = ("import nethook.cli, nethook.cli.verbs, nethook.cli.hook, "
                   "nethook.events.dhclient, nethook.watch.client, nethook.engine.run, "
                   "nethook.adapters.netlink, nethook.services.trigger, "
                   "nethook.base.logs, logging.handlers")
# The standard library modules those load that any Python program of this kind would
# (logging, json, dataclasses, pathlib, ipaddress, socket, ...): the floor under them.
STDLIB_IMPORTS = ("import logging, logging.handlers, socket, json, dataclasses, pathlib, "
                  "ipaddress, datetime, typing, enum, struct, fcntl, errno, select")
# What the exit shim and the wrapper run around Python (sh sourcing the shim, timeout,
# sh running the wrapper), with `true` exec'd where the wrapper execs python.
SHIM_CHAIN = "timeout -k 1 15 /bin/sh -c 'exec true' </dev/null >/dev/null || :"
NOOP_LABELS = {
    "nethook": "nethook (exit shim, RENEW)",
    "shim_chain": "the shim's chain, exec true for python",
    "python": "python -c pass",
    "python_imports": "python + nethook's imports",
    "python_stdlib": "python + the stdlib nethook uses",
}
IRRELEVANT_LABELS = {
    "sh": "sh -c :",
    "bash": "bash -c :",
    "enter_preinit": "dhclient enter shim, PREINIT",
    "exit_preinit": "dhclient exit shim, PREINIT",
    "rhel_nm": "RHEL dhclient.d shim, NM's call",
    "nm_hostname": "NetworkManager shim, hostname",
    "ifupdown_stop": "ifupdown if-up.d shim, MODE=stop",
    "networkd_degraded": "networkd shim, degraded",
}
# Each shim against the shell it runs in: the RHEL one is sourced by bash.
IRRELEVANT_BASE = {"rhel_nm": "bash"}
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _python_env(sandbox: Sandbox) -> Dict[str, str]:
    return {"PATH": HOOK_PATH, **sandbox.dirs.env()}


def noop_commands(sandbox: Sandbox) -> Dict[str, Command]:
    python = sandbox.python
    return {
        "nethook": (sourced(sandbox.shims["dhclient-exit"]), renew_env()),
        "shim_chain": ([tool("sh"), "-c", SHIM_CHAIN], renew_env()),
        "python": ([python, "-c", "pass"], _python_env(sandbox)),
        "python_imports": ([python, "-c", RESTORE_IMPORTS], _python_env(sandbox)),
        "python_stdlib": ([python, "-c", STDLIB_IMPORTS], _python_env(sandbox)),
    }


def irrelevant_commands(sandbox: Sandbox) -> Dict[str, Command]:
    shims = sandbox.shims
    return {
        "sh": ([tool("sh"), "-c", ":"], dict(TOOL_ENV)),
        "bash": ([tool("bash"), "-c", ":"], dict(TOOL_ENV)),
        "enter_preinit": (sourced(shims["dhclient-enter"]), preinit_env()),
        "exit_preinit": (sourced(shims["dhclient-exit"]), preinit_env()),
        "rhel_nm": (rhel_call(shims["dhclient-rhel"], "nethook_config"), rhel_nm_env()),
        "nm_hostname": (nm_dispatch(shims["networkmanager"], "hostname"), nm_env("hostname")),
        "ifupdown_stop": ([str(shims["ifupdown"])], ifupdown_env("stop")),
        "networkd_degraded": ([str(shims["networkd"])], networkd_env("degraded")),
    }


def _time_all(sandbox: Sandbox, commands: Dict[str, Command], runs: int,
              check: Optional[Callable[[str, bool], None]] = None
              ) -> Dict[str, Dict[str, Any]]:
    """Every command ``runs`` times in rotated order, after one warm-up round; ``check``
    gets each command's name after it ran, and whether its time was kept. Per command:
    the wall-clock summary, its CPU time's median and its peak RSS's."""
    spawned: Dict[str, List[Spawned]] = {name: [] for name in commands}
    for turn in range(-1, runs):
        for name in rotated(list(commands), turn):
            argv, env = commands[name]
            done = sandbox.spawn(argv, env)
            if done.status != 0:
                raise BenchError(f"{name}: exit status {done.status}")
            if turn >= 0:
                spawned[name].append(done)
            if check is not None:
                check(name, turn >= 0)
    return {name: dict(summary([s.seconds for s in taken]),
                       cpu_median_ms=median_or_none([s.cpu_ms for s in taken]),
                       maxrss_median_kib=median_or_none([s.maxrss_kib for s in taken]))
            for name, taken in spawned.items()}


def measure_noop(sandbox: Sandbox, n: int, runs: int) -> Dict[str, Any]:
    workload = Workload(n)
    files = prepare(sandbox, workload, "noop", present=True)
    journal: List[Dict[str, Any]] = []
    seen: List[Any] = [None]

    def nothing_changed(name: str, kept: bool) -> None:
        if name != "nethook":
            return
        entry = sandbox.dirs.last_journal_entry() or {}
        if entry.get("time") == seen[0]:
            raise BenchError(f"no-op N={n}: {name} did not journal a run")
        seen[0] = entry.get("time")
        if entry.get("plan") != [] or (entry.get("event") or {}).get("reason") != "RENEW":
            raise BenchError(f"no-op N={n}: nethook's last run was not an empty RENEW: "
                             f"{str(entry)[:300]}")
        if kept:
            journal.append(entry.get("durations") or {})

    try:
        timed = _time_all(sandbox, noop_commands(sandbox), runs, nothing_changed)
        problems = workload.verify(sandbox.ip_json)
    finally:
        sandbox.ip_batch(files.breaker, force=True)
    if problems:
        raise BenchError(f"no-op N={n}: the state changed: {'; '.join(problems)}")
    methods = {name: {"label": NOOP_LABELS[name], **entry} for name, entry in timed.items()}
    median = {name: entry["median_ms"] for name, entry in methods.items()}
    totals = sorted(d["total_ms"] for d in journal if "total_ms" in d)
    return {
        "n": n, "objects": workload.object_count, "methods": methods,
        "reconcile_ms_median": totals[len(totals) // 2] if totals else None,
        "ratios": {"nethook_over_python_imports": ratio(median["nethook"],
                                                        median["python_imports"]),
                   "nethook_over_python": ratio(median["nethook"], median["python"])},
        "breakdown_ms": _breakdown(median),
    }


def _breakdown(median: Dict[str, Any]) -> Dict[str, Any]:
    """Where the no-op's time goes, from differences of medians."""
    def minus(a: Any, b: Any) -> Any:
        return None if a is None or b is None else round(a - b, 2)

    return {
        "interpreter start": median["python"],
        "the standard library's imports": minus(median["python_stdlib"], median["python"]),
        "nethook's own imports": minus(median["python_imports"], median["python_stdlib"]),
        "shim (sh, timeout, wrapper)": median["shim_chain"],
        "nethook's own work": minus(minus(median["nethook"], median["shim_chain"]),
                                    median["python_imports"]),
    }


def measure_irrelevant(sandbox: Sandbox, runs: int) -> Dict[str, Any]:
    timed = _time_all(sandbox, irrelevant_commands(sandbox), runs)
    methods = {name: {"label": IRRELEVANT_LABELS[name], **entry}
               for name, entry in timed.items()}
    shims = [name for name in methods if name not in ("sh", "bash")]
    base = {name: IRRELEVANT_BASE.get(name, "sh") for name in shims}
    return {"methods": methods, "baselines": base,
            "ratios": {name: ratio(methods[name]["median_ms"],
                                   methods[base[name]]["median_ms"]) for name in shims}}


def import_profile(sandbox: Sandbox, n: int = 10, runs: int = 3,
                   top: int = 10) -> Dict[str, Any]:
    """``-X importtime`` of the no-op hook run through the real exit shim: of ``runs``
    runs, the one whose total import time is the median."""
    files = prepare(sandbox, Workload(n), "importtime", present=True)
    profiles = []
    try:
        argv, env = noop_commands(sandbox)["nethook"]
        for run in range(runs):
            stderr = files.directory / f"importtime-{run}.txt"
            spawned = sandbox.spawn(argv, {**env, "PYTHONPROFILEIMPORTTIME": "1"},
                                    stderr=stderr)
            if spawned.status != 0:
                raise BenchError(f"importtime run: exit status {spawned.status}")
            profiles.append(parse_importtime(
                stderr.read_text(encoding="utf-8", errors="replace"), top))
    finally:
        sandbox.ip_batch(files.breaker, force=True)
    profiles.sort(key=lambda p: float(p["total_ms"]))
    chosen = profiles[len(profiles) // 2]
    chosen["totals_ms"] = [p["total_ms"] for p in profiles]
    return chosen


def parse_importtime(text: str, top: int = 10) -> Dict[str, Any]:
    """Top ``top`` modules by cumulative time, top-level imports, and the total."""
    rows = []
    for line in text.splitlines():
        found = _IMPORT_LINE.match(line)
        if found:
            self_us, cumulative_us, indent, name = found.groups()
            rows.append({"module": name, "self_ms": int(self_us) / 1000,
                         "cumulative_ms": int(cumulative_us) / 1000,
                         "depth": len(indent) // 2})
    if not rows:
        raise BenchError("no -X importtime output was captured")
    by_cumulative = sorted(rows, key=lambda r: -float(r["cumulative_ms"]))
    top_level = sorted((r for r in rows if r["depth"] == 0),
                       key=lambda r: -float(r["cumulative_ms"]))
    total = sum(float(r["self_ms"]) for r in rows)
    families: Dict[str, float] = {}
    for row in rows:
        family = str(row["module"]).split(".")[0]
        families[family] = families.get(family, 0.0) + float(row["self_ms"])
    return {"total_ms": round(total, 2), "modules": len(rows),
            "top_cumulative": by_cumulative[:top], "top_level": top_level[:top],
            "by_package_self_ms": {k: round(v, 2) for k, v in
                                   sorted(families.items(), key=lambda kv: -kv[1])[:top]}}


def run_noop(sandbox: Sandbox, sizes: Sequence[int], runs: int,
             log: Log) -> Dict[str, Any]:
    noop = {}
    for n in sizes:
        log(f"no-op: N={n} ({runs} runs of each command, after one warm-up)")
        noop[str(n)] = measure_noop(sandbox, n, runs)
    log("no-op: -X importtime of the hook path")
    return {"noop": noop, "importtime": import_profile(sandbox)}


def run_irrelevant(sandbox: Sandbox, runs: int, log: Log) -> Dict[str, Any]:
    log(f"irrelevant events ({runs} runs of each command, after one warm-up)")
    return measure_irrelevant(sandbox, runs)
