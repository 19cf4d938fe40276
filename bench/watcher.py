"""Part 6: the resident watcher (``nethook watch``).

* **Restore at scale**: the workload of part 1 (N aliases, N/10 rules and table routes),
  all missing, restored by a running watcher. Timed from the notification (a dhclient
  BOUND, handed over on the watcher's socket with ``"wait": true``) to the watcher's
  answer, which it sends once the last operation's acknowledgement is in and the run is
  recorded (ownership record, journal). Each run is framed as dhclient frames it: an
  enter hook (PREPARE: the watcher holds the interface), the loss (whose 1200 netlink
  notices the watcher has read by the time the exit hook comes), the exit hook. Against
  the ``ip -batch`` floor of part 1, measured here twice: before the watcher starts
  (the ratio's denominator: the least a restore costs), and taking turns with the
  watcher while it runs (it reads the kernel's notifications of every change meanwhile).
* **Outage window of a loss no hook reports** (an ``ip -batch`` deleting 10 aliases, as
  ``ip addr flush`` or another program would): from each alias's deletion to its
  re-addition by the watcher alone (netlink, debounce), from ``ip -ts monitor address``.
  Without a watcher nothing ever puts them back.
* **What it costs**: resident memory once started, its peak after the restores, and the
  CPU time it uses while nothing happens, connected to a D-Bus system bus of the
  benchmark's own (dbus-daemon, no NetworkManager on it) as on a real machine.

The configuration sets ``snapshot: false``, so that no snapshot adds to what part 1
restores (which has none either).
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from bench.sandbox import IFNAME, PREFIXLEN, TOOL_ENV, BenchError, Log, Sandbox, tool
from bench.scale import break_state, prepare
from bench.stats import ratio, rotated, summary
from bench.workload import Workload, alias_ip
from lab.dhcp_lab import parse_monitor
from lab.procs import poll_until, terminate
from lab.watcher import Watcher, outage_windows
from nethook.events import Event, Kind
from nethook.watch import client

METHODS = ("watcher", "ip_batch")
LABELS = {"watcher": "watcher (notification to last ack)",
          "ip_batch": "ip -batch, the watcher listening",
          "alone": "ip -batch, no watcher (floor)"}
FLUSH_ALIASES = 10
IDLE_SECONDS = 20.0
_BUS_CONF = """\
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/> <allow own="*"/> <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


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


def measure_flush(sandbox: Sandbox, watcher: Watcher, runs: int, log: Log) -> Dict[str, Any]:
    """Deleting FLUSH_ALIASES aliases behind every hook's back; the watcher alone.

    Each run deletes aliases no earlier run touched: an alias deleted again right after
    the watcher restored it is what loop protection backs off from, by design.
    """
    workload = Workload(FLUSH_ALIASES * (runs + 1))
    with _held(sandbox):
        files = prepare(sandbox, workload, "flush", present=True)
        watcher.reload()
    monitor_log = sandbox.base / "flush-monitor.log"
    with open(monitor_log, "wb") as out:
        monitor = subprocess.Popen(["ip", "netns", "exec", sandbox.ns, "ip", "-ts", "monitor",
                                    "address"], stdout=out, env=TOOL_ENV)
    try:
        time.sleep(0.3)
        taken = [_flush_once(sandbox, watcher, files.directory, monitor_log, run, log)
                 for run in range(runs + 1)][1:]  # run 0: the warm-up
        if not poll_until(lambda: not workload.verify(sandbox.ip_json), 5.0):
            raise BenchError("the watcher did not restore everything: "
                             + "; ".join(workload.verify(sandbox.ip_json)))
    finally:
        terminate(monitor)
    with _held(sandbox):
        sandbox.ip_batch(files.breaker, force=True)
        sandbox.dirs.write_config("version: 1\n")
        watcher.reload()
    return {"aliases": FLUSH_ALIASES, "all_back": summary(taken)}


def _flush_once(sandbox: Sandbox, watcher: Watcher, directory: Path, monitor_log: Path,
                run: int, log: Log) -> float:
    first = run * FLUSH_ALIASES
    ips = [alias_ip(i) for i in range(first, first + FLUSH_ALIASES)]
    batch = directory / f"flush-{run}.batch"
    batch.write_text("".join(f"address del {ip}/{PREFIXLEN} dev {IFNAME}\n" for ip in ips))
    seen = len(parse_monitor(monitor_log.read_text()))

    def windows() -> Optional[Dict[str, float]]:
        return outage_windows(parse_monitor(monitor_log.read_text())[seen:], ips)

    sandbox.ip_batch(batch)
    if not poll_until(lambda: windows() is not None, 10.0):
        raise BenchError("the watcher did not restore the deleted aliases in 10 s:\n"
                         + watcher.log()[-3000:])
    found = windows()
    assert found is not None
    if run:
        log(f"  flush run {run}: all {FLUSH_ALIASES} aliases back after "
            f"{max(found.values()):.1f} ms")
    return max(found.values()) / 1000


def _private_bus(base: Path) -> subprocess.Popen[bytes]:
    config = base / "bus.conf"
    socket = base / "bus.sock"
    config.write_text(_BUS_CONF.format(socket=socket))
    bus = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork",
                            "--nopidfile"], env=TOOL_ENV, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if not poll_until(socket.exists, 10.0):
        terminate(bus)
        raise BenchError("dbus-daemon did not start")
    return bus


def run_watcher(sandbox: Sandbox, sizes: Sequence[int], runs: int, flush_runs: int,
                idle_seconds: float, log: Log, python: str) -> Dict[str, Any]:
    if shutil.which("dbus-daemon", path=TOOL_ENV["PATH"]) is None:
        raise BenchError("the watcher part needs dbus-daemon")
    sandbox.dirs.write_config("version: 1\n")
    floors = {}
    for n in sizes:
        log(f"watcher: N={n}, the ip -batch floor before the watcher starts ({runs} runs)")
        floors[n] = measure_floor(sandbox, n, runs)
    bus = _private_bus(sandbox.base)
    result: Dict[str, Any] = {"runs": runs, "sizes": {}}
    try:
        with Watcher(sandbox.dirs, sandbox.ns, python=python, args=(),
                     dbus_address=f"unix:path={sandbox.base / 'bus.sock'}") as watcher:
            result["started"] = watcher.usage()
            # First: these aliases are deleted once each, never right after a restore.
            log(f"watcher: outage window of a loss of {FLUSH_ALIASES} aliases, "
                f"{flush_runs} runs")
            result["flush"] = measure_flush(sandbox, watcher, flush_runs, log)
            for n in sizes:
                log(f"watcher: N={n} ({runs} runs of each method, after one warm-up)")
                result["sizes"][str(n)] = measure_restore(sandbox, watcher, n, runs, log,
                                                          floors[n])
            result["idle"] = _idle(watcher, idle_seconds, log)
            result["log_tail"] = watcher.log()[-2000:]
            if watcher.stop() != 0:
                raise BenchError(f"the watcher exited with an error:\n{watcher.log()[-2000:]}")
    finally:
        terminate(bus)
    return result


def _idle(watcher: Watcher, seconds: float, log: Log) -> Dict[str, Any]:
    log(f"watcher: {seconds:.0f} s idle")
    before = watcher.usage()
    time.sleep(seconds)
    after = watcher.usage()
    return {"seconds": seconds, "cpu_ms": round(after["cpu_ms"] - before["cpu_ms"], 1),
            "rss_mb": round(after["rss_mb"], 1), "peak_rss_mb": round(after["peak_rss_mb"], 1)}


def _median(values: List[float]) -> Optional[float]:
    return round(statistics.median(values), 3) if values else None

