"""nethook's main job, shown with the real programs in throw-away namespaces.

A server (namespace ``nhl-*-cli``) gets its lease from a real dnsmasq (``nhl-*-srv``)
through the real isc dhclient and Debian's stock dhclient-script, whose hook directories
hold nethook's shipped shims. It keeps two aliases, a policy rule and a table route.

1. The DHCP server gives it a new address. dhclient-script removes the old lease; the
   kernel drops the aliases with it and empties table 100. The shims run nethook, which
   puts everything back: nobody types a command.
2. Someone deletes an alias and the rule by hand, which no hook reports. ``nethook watch``
   hears it from the kernel and puts them back.
3. ``nethook status`` and ``nethook check`` say all is well.

Everything runs in two network namespaces this script makes (lab/dhcp_lab.py); dhclient
sees the shims and a /usr/bin/nethook of the demo's own only through mounts in a private
mount namespace. The host's interfaces, routes, /etc/dhcp and /usr/bin are never touched.
Every process is stopped by PID and the namespaces deleted at the end, after an error, or
on Ctrl-C, SIGTERM or SIGHUP. ``make demo`` installs what it needs and runs this; by
hand, as root from the top of the tree: ``PYTHONPATH=. .venv/bin/python demo/demo.py``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Callable, Optional, Sequence

from lab.dhcp_lab import DhcpLab, LabError, Mount, missing_requirements
from lab.nethook_env import DEBIAN_ENTER, DEBIAN_EXIT, NethookDirs, install_shim
from lab.procs import poll_until
from lab.watcher import Watcher

FIRST, SECOND = "10.77.0.10", "10.77.0.11"
ALIASES = ("10.77.0.50", "10.77.0.51")
CONFIG = """\
version: 1
interfaces:
  eth0:
    addresses:
      - {address: 10.77.0.50/24, label: "eth0:0"}
      - {address: 10.77.0.51/24, label: "eth0:1"}
    routes:
      - {to: default, via: 10.77.0.1, table: mgmt}
    routing-policy:
      - {from: 10.77.0.50, table: mgmt, priority: 1000}
"""


def step(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def note(text: str) -> None:
    print(f"   ({text})", flush=True)


def show(title: str, done: subprocess.CompletedProcess[str]) -> None:
    print(f"$ {title}", flush=True)
    output = (done.stdout + done.stderr).rstrip()
    if output:
        print(output, flush=True)


class Demo:
    def __init__(self, lab: DhcpLab, dirs: NethookDirs) -> None:
        self.lab, self.dirs = lab, dirs

    def ip(self, *args: str) -> None:
        show(f"ip {' '.join(args)}", self.lab.ip(*args))

    def server(self) -> None:
        self.ip("-br", "-4", "address", "show", "dev", "eth0")
        self.ip("-4", "rule", "show", "priority", "1000")
        self.ip("route", "show", "table", "100")

    def nethook(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self.dirs.command(self.lab.client_ns, *args)
        show(f"nethook {' '.join(args)}", done)
        return done

    def kept(self) -> bool:
        """Both aliases, the rule and the table route are on the server."""
        have = {a.address for a in self.lab.addresses()}
        rules = self.lab.ip("-4", "rule", "show", "priority", "1000").stdout
        routes = self.lab.ip("route", "show", "table", "100").stdout
        return have >= set(ALIASES) and "lookup" in rules and "default" in routes

    def monitor_since(self, count: int, wanted: Callable[[str], bool]) -> None:
        """The kernel's notifications (``ip -ts monitor``) after the first ``count``."""
        print("$ ip -ts monitor address route rule   # what the kernel said, meanwhile")
        for event in self.lab.monitor_events()[count:]:
            if wanted(event.text):
                kind = "Deleted " if event.deleted else "        "
                print(f"[{event.time:%H:%M:%S.%f}] {kind}{' '.join(event.text.split())}")

    def journal_since(self, count: int) -> None:
        """The nethook runs since the first ``count`` journal entries that did something."""
        print(f"$ tail {self.dirs.state / 'journal.jsonl'}   # one JSON line per run, in short")
        idle = 0
        for entry in self.dirs.journal()[count:]:
            event = entry.get("event") or {}
            applied = [r["op"] for r in entry.get("results") or []
                       if r.get("status") == "applied"]
            if not applied and not entry.get("action"):
                idle += 1  # a renewal that found everything there
                continue
            what = entry.get("action") or f"restored {len(applied)}: " + "; ".join(applied)
            print(f"{entry.get('time', '?')[11:23]} {event.get('source')} "
                  f"{event.get('reason')} {event.get('ifname')}: {what}")
        if idle:
            print(f"(and {idle} run(s) that found nothing missing)")


def ours(text: str) -> bool:
    return any(ip in text for ip in (FIRST, SECOND, *ALIASES)) or "lookup 100" in text \
        or "table 100" in text


def act_lease_change(demo: Demo) -> None:
    lab = demo.lab
    step("the DHCP server hands this server a new address (dnsmasq now maps its MAC to "
         f"{SECOND})")
    events, runs, trace = len(lab.monitor_events()), len(demo.dirs.journal()), lab.mark()
    lab.renumber(SECOND)
    lab.wait_for_sequence(["EXPIRE", "PREINIT", "BOUND"], after=trace, timeout=20)
    lab.wait_bound(SECOND, after=trace)
    poll_until(demo.kept, 5.0)
    note("dhclient renews, is refused, and runs dhclient-script: EXPIRE removes "
         f"{FIRST}, BOUND adds {SECOND}; no one types anything")
    demo.monitor_since(events, ours)
    note("the kernel dropped the aliases with their primary and, with the last IPv4 "
         "address, table 100's route, without a word for that one")
    demo.journal_since(runs)
    note("EXPIRE's snapshot leaves out what is declared: the configuration keeps that")
    demo.server()


def act_watcher(demo: Demo) -> bool:
    """The watcher undoes a deletion; then status and check, while it runs."""
    lab = demo.lab
    step("nethook watch: a loss no hook reports")
    with Watcher(demo.dirs, lab.client_ns, args=()) as watcher:
        print(f"$ nethook watch --no-dbus &   # pid {watcher.pid}, started in the namespace")
        events, runs = len(lab.monitor_events()), len(demo.dirs.journal())
        demo.ip("address", "del", f"{ALIASES[1]}/24", "dev", "eth0")
        demo.ip("rule", "del", "priority", "1000")
        poll_until(demo.kept, 10.0)
        demo.monitor_since(events, ours)
        demo.journal_since(runs)
        demo.server()
        step("nethook status")
        demo.nethook("status")
        step("nethook check: one line for a monitoring system, and its exit status")
        return check(demo)


def check(demo: Demo) -> bool:
    """``nethook check``; whether it says OK."""
    done = demo.nethook("check")
    states = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
    note(f"exit status {done.returncode}: {states.get(done.returncode, 'unexpected')}")
    return done.returncode == 0


def first_lease(demo: Demo) -> None:
    step(f"namespaces {demo.lab.client_ns} (the server) and {demo.lab.server_ns} "
         "(its DHCP server, dnsmasq)")
    step(f"the declared state ({demo.dirs.config / 'nethook.yaml'})")
    print(CONFIG, end="")
    step("dhclient starts and binds its first lease; the exit hook runs nethook")
    demo.lab.start_dhclient()
    demo.lab.wait_bound(FIRST, timeout=20)
    poll_until(demo.kept, 5.0)
    demo.journal_since(0)
    demo.server()


def run(base: Path) -> int:
    dirs = NethookDirs.create(base / "nethook", CONFIG)
    (dirs.root / "etc" / "iproute2").mkdir(parents=True)
    (dirs.root / "etc" / "iproute2" / "rt_tables").write_text("100\tmgmt\n")
    wrapper = dirs.wrapper()
    with DhcpLab(address=FIRST, t1=2, t2=4, autostart=False, base_dir=str(base),
                 monitor_objects=("address", "route", "rule"),
                 extra_mounts=[Mount(str(wrapper), "/usr/bin", "overlay")]) as lab:
        for shim, directory in ((DEBIAN_ENTER, lab.enter_hook_dir),
                                (DEBIAN_EXIT, lab.exit_hook_dir)):
            install_shim(shim, directory)
        demo = Demo(lab, dirs)
        first_lease(demo)
        act_lease_change(demo)
        ok = act_watcher(demo) and demo.kept()
    step("cleaned up: dhclient, dnsmasq and the watcher stopped by PID, namespaces "
         f"{lab.client_ns} and {lab.server_ns} deleted")
    return 0 if ok else 1


STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def interrupted(signum: int, _frame: Optional[FrameType]) -> None:
    """The first stop signal unwinds into the cleanup; later ones cannot cut it short."""
    for stop in STOPS:
        signal.signal(stop, signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str]) -> int:
    if len(argv) > 1:
        print("usage: demo.py   (as root; `make demo` installs what it needs first)")
        return 2
    problem = missing_requirements()
    if problem:
        print(f"demo: {problem}; run `make demo` as root", file=sys.stderr)
        return 1
    for stop in STOPS:
        signal.signal(stop, interrupted)
    base = Path(tempfile.mkdtemp(prefix="nethook-demo-", dir="/tmp"))
    try:
        return run(base)
    except KeyboardInterrupt as exc:
        print(f"\ndemo: interrupted ({exc}); everything it started is stopped",
              file=sys.stderr)
        return 130
    except LabError as exc:
        print(f"\ndemo: failed: {exc}\n(everything it started is stopped)", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
