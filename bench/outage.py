"""Part 4: how long aliases are gone when the real dhclient changes lease.

The lab of ``tests/lab/dhcp_lab.py`` runs dnsmasq and isc dhclient with Debian's stock
dhclient-script in two namespaces (named ``nhb-...`` here). The client carries 10
same-subnet aliases; dnsmasq is told to hand out the other address, dhclient's next
renewal is NAKed and it runs EXPIRE -> PREINIT -> BOUND. EXPIRE flushes the lease, and
the kernel deletes the aliases with it (promote_secondaries=0).

Two hook sets take turns, one renumbering each, in the same lab:

* ``nethook``: byte-identical copies of the shipped Debian enter and exit shims, with
  ``/usr/bin/nethook`` (an overlay seen only by the lab's dhclient) a wrapper that sets
  every ``NETHOOK_*`` path itself, since dhclient gives its script only its own
  environment. The aliases are declared in the config; snapshots are on (the default).
* ``watcher``: the same shims with ``nethook watch`` running in the client namespace
  (started before the turn, stopped after it): the enter hook waits for the watcher's
  snapshot, the exit hook hands BOUND over and returns, the watcher restores.
* ``floor``: a sourced exit hook running one ``ip -batch`` that adds the 10 aliases,
  the least any restore can cost.

The window of an alias runs from the kernel's deletion to its re-addition, both read
from the lab's ``ip -ts monitor address`` inside the client namespace.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from bench.sandbox import HOOKS, PREFIX, BenchError, Log, NethookDirs
from bench.stats import rotated, summary
from lab.dhcp_lab import (
    DhcpLab,
    MonitorEvent,
    Mount,
    host_mount_leaks,
    missing_requirements,
)
from lab.watcher import Watcher

LEASES = ("10.77.0.10", "10.77.0.11")
ALIASES = tuple((f"10.77.0.{50 + i}", f"eth0:{i}") for i in range(10))
T1, T2 = 2, 4  # dhclient renews every 1.5-2 s: a renumbering shows within 2 s
VARIANTS = ("nethook", "watcher", "floor")
LABELS = {"nethook": "nethook (shipped Debian shims)",
          "watcher": "nethook, shims + nethook watch",
          "floor": "floor (exit hook, one ip -batch)"}
SHIMS = {"enter": HOOKS / "dhclient-enter-hooks.d" / "nethook",
         "exit": HOOKS / "dhclient-exit-hooks.d" / "nethook"}
FLOOR_HOOK = "nhbfloor"
_FLOOR = """\
# nethook benchmark: the floor of a restore, one ip -batch (bench/outage.py).
case "${{reason-}}" in
    BOUND|RENEW|REBIND|REBOOT|TIMEOUT) ip -force -batch {batch} >/dev/null 2>&1 || : ;;
esac
:
"""
CONFIG = "version: 1\ninterfaces:\n  eth0:\n    addresses:\n" + "".join(
    f'      - {{address: {ip}/24, label: "{label}"}}\n' for ip, label in ALIASES)


class BenchLab(DhcpLab):
    """The DHCP lab with the benchmark's namespace prefix (``nhb-``)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.server_ns = f"{PREFIX}{self.tag}-srv"
        self.client_ns = f"{PREFIX}{self.tag}-cli"


def _install(lab: DhcpLab, variant: str, floor_hook: str) -> None:
    """Put ``variant``'s hooks in the lab's hook directories, and only them."""
    for kind, shim in SHIMS.items():
        target = (lab.enter_hook_dir if kind == "enter" else lab.exit_hook_dir) / "nethook"
        if variant in ("nethook", "watcher"):
            shutil.copyfile(shim, target)
            target.chmod(0o644)
            if target.read_bytes() != shim.read_bytes():
                raise BenchError(f"the lab's copy of {shim} differs from it")
        else:
            target.unlink(missing_ok=True)
    floor = lab.exit_hook_dir / FLOOR_HOOK
    if variant == "floor":
        lab.install_hook("exit", FLOOR_HOOK, floor_hook)
    else:
        floor.unlink(missing_ok=True)


def _mentions(event: MonitorEvent, ip: str) -> bool:
    return f"inet {ip}/" in event.text


def windows(events: Sequence[MonitorEvent], lease: str) -> Optional[Dict[str, Any]]:
    """Deletion -> re-addition of every alias in ``events``, or None while incomplete."""
    per_alias: Dict[str, float] = {}
    first_deletion = None
    for ip, _label in ALIASES:
        deleted = next((i for i, e in enumerate(events) if e.deleted and _mentions(e, ip)), None)
        if deleted is None:
            return None
        back = next((e for e in events[deleted + 1:] if not e.deleted and _mentions(e, ip)),
                    None)
        if back is None:
            return None
        gone = events[deleted].time
        first_deletion = gone if first_deletion is None else min(first_deletion, gone)
        per_alias[ip] = (back.time - gone).total_seconds() * 1000
    assert first_deletion is not None
    lease_up = next((e for e in events if not e.deleted and _mentions(e, lease)
                     and e.time >= first_deletion), None)
    return {"first_ms": round(min(per_alias.values()), 3),
            "last_ms": round(max(per_alias.values()), 3),
            "lease_up_ms": None if lease_up is None
            else round((lease_up.time - first_deletion).total_seconds() * 1000, 3),
            "per_alias_ms": {ip: round(ms, 3) for ip, ms in per_alias.items()}}


def renumber_once(lab: DhcpLab, lease: str, timeout: float = 5.0) -> Dict[str, Any]:
    """Move the client to ``lease``; the windows of this renumbering."""
    seen = len(lab.monitor_events())
    mark = lab.mark()
    lab.renumber(lease)
    lab.wait_bound(lease, after=mark, timeout=15.0)
    deadline = time.monotonic() + timeout
    while True:
        found = windows(lab.monitor_events()[seen:], lease)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise BenchError(f"the aliases did not all come back within {timeout} s of "
                             f"BOUND {lease}")
        time.sleep(0.05)


def _wait_aliases(lab: DhcpLab, timeout: float = 10.0) -> None:
    wanted = {f"{ip}/24" for ip, _label in ALIASES}
    deadline = time.monotonic() + timeout
    while not wanted <= {a.cidr for a in lab.addresses()}:
        if time.monotonic() > deadline:
            raise BenchError("nethook did not add the declared aliases at the first BOUND")
        time.sleep(0.05)


def run_outage(runs: int, log: Log, python: str = sys.executable) -> Dict[str, Any]:
    problem = missing_requirements()
    if problem:
        raise BenchError(problem)
    if host_mount_leaks():
        raise BenchError("the host's mount table already shows lab mounts")
    work = Path(tempfile.mkdtemp(prefix=f"{PREFIX}outage-"))
    try:
        dirs = NethookDirs.make(work / "nethook", CONFIG)
        bin_dir = dirs.write_wrapper(work / "bin", os.path.abspath(python))
        batch = work / "aliases.batch"
        batch.write_text("".join(f"address add {ip}/24 dev eth0 label {label}\n"
                                 for ip, label in ALIASES), encoding="utf-8")
        with BenchLab(address=LEASES[0], t1=T1, t2=T2, autostart=False, base_dir=str(work),
                      extra_mounts=[Mount(str(bin_dir), "/usr/bin", "overlay")]) as lab:
            samples = _measure(lab, runs, _FLOOR.format(batch=batch), log,
                               lambda: Watcher(dirs, lab.client_ns, python=python, args=()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if host_mount_leaks():
        raise BenchError("lab mounts leaked into the host's mount table")
    return _result(samples, runs)


def _measure(lab: DhcpLab, runs: int, floor_hook: str, log: Log,
             watcher: Callable[[], Watcher]) -> Dict[str, List[Dict[str, Any]]]:
    _install(lab, "nethook", floor_hook)
    lab.start_dhclient()
    lab.wait_bound(LEASES[0])
    _wait_aliases(lab)
    samples: Dict[str, List[Dict[str, Any]]] = {variant: [] for variant in VARIANTS}
    turn = 0
    for repetition in range(runs):
        for variant in rotated(VARIANTS, repetition):
            _install(lab, variant, floor_hook)
            turn += 1
            if variant == "watcher":
                with watcher() as running:
                    sample = renumber_once(lab, LEASES[turn % 2])
                    if running.stop() != 0:
                        raise BenchError(f"the watcher failed:\n{running.log()[-2000:]}")
            else:
                sample = renumber_once(lab, LEASES[turn % 2])
            samples[variant].append(sample)
            log(f"  {variant:8s} run {repetition + 1}: aliases back after "
                f"{sample['first_ms']:.1f}-{sample['last_ms']:.1f} ms "
                f"(new lease up after {sample['lease_up_ms']} ms)")
    return samples


def _result(samples: Dict[str, List[Dict[str, Any]]], runs: int) -> Dict[str, Any]:
    variants = {}
    for variant, taken in samples.items():
        last = summary([s["last_ms"] / 1000 for s in taken])
        leases = [s["lease_up_ms"] for s in taken if s["lease_up_ms"] is not None]
        variants[variant] = {
            "label": LABELS[variant], "all_aliases_back": last,
            "first_alias_back_median_ms": round(
                statistics.median(s["first_ms"] for s in taken), 3),
            "lease_up_median_ms": round(statistics.median(leases), 3) if leases else None,
            "samples": taken}
    return {"runs": runs, "aliases": len(ALIASES), "t1": T1, "variants": variants}
