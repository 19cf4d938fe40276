"""The resident watcher (``nethook watch``) restoring at scale, against the floor.

The workload of the scale part (N aliases, N/10 rules and table routes), all missing,
restored by a running watcher. Timed from the notification (a dhclient BOUND, handed over
on the watcher's socket with ``"wait": true``) to the watcher's answer, which it sends once
the last operation's acknowledgement is in and the run is recorded (ownership record,
journal). Each run is framed as dhclient frames it: an enter hook (PREPARE: the watcher
holds the interface), the loss (whose netlink notices the watcher has read by the time
the exit hook comes), the exit hook. Against the ``ip -batch`` floor, measured twice:
before the watcher starts (the ratio's denominator: the least a restore costs), and taking
turns with the watcher while it runs (it reads the kernel's notice of every change
meanwhile).

The watcher runs with ``--no-dbus`` (no NetworkManager or networkd here), and the
configuration sets ``snapshot: false``, so that no snapshot adds to what is restored.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence

from bench.sandbox import IFNAME, TOOL_ENV, BenchError, Log, Sandbox, tool
from bench.scale import break_state, prepare
from bench.stats import ratio, rotated, summary
from bench.workload import Workload
from lab.watcher import Watcher
from nethook.events import Event, Kind
from nethook.watch import client

METHODS = ("watcher", "ip_batch")
LABELS = {"watcher": "watcher (notification to last ack)",
          "ip_batch": "ip -batch, the watcher listening",
          "alone": "ip -batch, no watcher (floor)"}


def _event(kind: Kind, reason: str) -> Event:
    return Event(source="dhclient", kind=kind, reason=reason, ifname=IFNAME)


def _forward(sandbox: Sandbox, event: Event, wait: bool = False) -> Dict[str, Any]:
    answer = client.forward(sandbox.dirs.run, event, wait=wait, timeout=60.0)
    if answer is None:
        raise BenchError(f"the watcher did not answer {event.describe()}")
    return answer


@contextlib.contextmanager
def _held(sandbox: Sandbox) -> Iterator[None]:
    """The watcher leaves the interface alone meanwhile (a dhclient enter hook's hold),
    and restores what the new configuration keeps after (the exit hook)."""
    _forward(sandbox, _event(Kind.PREPARE, "RENEW"))
    try:
        yield
    finally:
        _forward(sandbox, _event(Kind.CONFIGURE, "BOUND"), wait=True)


def _once(sandbox: Sandbox, workload: Workload, files: Any, method: str) -> Dict[str, Any]:
    _forward(sandbox, _event(Kind.PREPARE, "RENEW"))  # the enter hook: a hold
    break_state(sandbox, workload, files)
    if method == "watcher":
        # As after dhclient-script's flush: the watcher has read the kernel's notices of
        # the loss (a status round trip goes through its loop after them).
        client.call(sandbox.dirs.run, {"op": "status"}, timeout=10.0)
        started = time.perf_counter()
        answer = _forward(sandbox, _event(Kind.CONFIGURE, "BOUND"), wait=True)
        seconds = time.perf_counter() - started
        journal = (sandbox.dirs.last_journal_entry() or {}).get("durations")
    else:
        spawned = sandbox.spawn([tool("ip"), "-batch", str(files.batch)], dict(TOOL_ENV))
        seconds, answer, journal = spawned.seconds, {"ok": spawned.status == 0}, None
        _forward(sandbox, _event(Kind.CONFIGURE, "BOUND"), wait=True)  # ends the hold
    problems = workload.verify(sandbox.ip_json)
    return {"seconds": seconds, "answer": answer, "journal": journal,
            "converged": not problems, "problems": problems}


def measure_floor(sandbox: Sandbox, n: int, runs: int) -> Dict[str, Any]:
    """``ip -batch`` restoring the workload with no watcher running: the floor."""
    workload = Workload(n)
    files = prepare(sandbox, workload, "watcher-floor")
    taken = []
    for turn in range(-1, runs):
        break_state(sandbox, workload, files)
        spawned = sandbox.spawn([tool("ip"), "-batch", str(files.batch)], dict(TOOL_ENV))
        if spawned.status != 0 or workload.verify(sandbox.ip_json):
            raise BenchError(f"N={n}: ip -batch did not restore the workload")
        if turn >= 0:
            taken.append(spawned.seconds)
    sandbox.ip_batch(files.breaker, force=True)
    return dict(summary(taken), label=LABELS["alone"], converged=True)


def measure_restore(sandbox: Sandbox, watcher: Watcher, n: int, runs: int,
                    log: Log, floor: Dict[str, Any]) -> Dict[str, Any]:
    workload = Workload(n)
    with _held(sandbox):
        files = prepare(sandbox, workload, "watcher", present=True)
        sandbox.dirs.write_config("snapshot: false\n" + workload.config_yaml())
        watcher.reload()
    samples: Dict[str, List[Dict[str, Any]]] = {m: [] for m in METHODS}
    for turn in range(-1, runs):  # turn -1: the warm-up, not kept
        for method in rotated(METHODS, turn):
            sample = _once(sandbox, workload, files, method)
            if not sample["converged"]:
                log(f"  N={n} {method}: did not converge: {'; '.join(sample['problems'])}")
            if turn >= 0:
                samples[method].append(sample)
    with _held(sandbox):  # leave nothing of this size behind, and nothing kept
        sandbox.ip_batch(files.breaker, force=True)
        sandbox.dirs.write_config("version: 1\n")
        watcher.reload()
    methods = {}
    for method, taken in samples.items():
        entry = summary([s["seconds"] for s in taken])
        entry.update(label=LABELS[method], converged=all(s["converged"] for s in taken),
                     samples=taken)
        methods[method] = entry
    methods["alone"] = floor
    watcher_journal = [s["journal"] for s in samples["watcher"] if s["journal"]]
    return {"n": n, "objects": workload.object_count, "methods": methods,
            "apply_ms_median": _median([j["apply_ms"] for j in watcher_journal]),
            "ratio": ratio(methods["watcher"]["median_ms"], floor["median_ms"]),
            "ratio_listening": ratio(methods["watcher"]["median_ms"],
                                     methods["ip_batch"]["median_ms"])}


def run_watcher(sandbox: Sandbox, sizes: Sequence[int], runs: int, log: Log,
                python: str) -> Dict[str, Any]:
    sandbox.dirs.write_config("version: 1\n")
    floors = {}
    for n in sizes:
        log(f"watcher: N={n}, the ip -batch floor before the watcher starts ({runs} runs)")
        floors[n] = measure_floor(sandbox, n, runs)
    result: Dict[str, Any] = {"runs": runs, "sizes": {}}
    with Watcher(sandbox.dirs, sandbox.ns, python=python, args=()) as watcher:
        for n in sizes:
            log(f"watcher: N={n} ({runs} runs of each method, after one warm-up)")
            result["sizes"][str(n)] = measure_restore(sandbox, watcher, n, runs, log,
                                                      floors[n])
        result["log_tail"] = watcher.log()[-2000:]
        if watcher.stop() != 0:
            raise BenchError(f"the watcher exited with an error:\n{watcher.log()[-2000:]}")
    return result


def _median(values: List[float]) -> Optional[float]:
    return round(statistics.median(values), 3) if values else None
