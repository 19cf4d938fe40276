"""The services check on fakes: waiting, escalation, the rate limit, and the hook's queue.

The fakes keep the real check's shape: the socket table is a list of Listener values that
the fake daemon changes when it is re-bound or restarted, time is a clock the check's own
sleeps advance, and the unit manager answers like systemd (a stopped unit stays stopped).
The real programs are in tests/e2e/test_services_ntpd.py and test_services_units.py.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Callable, Collection, Dict, FrozenSet, List, Optional, Sequence, Tuple

import pytest

from nethook.adapters.units import InitScripts
from nethook.base.context import RunContext
from nethook.base.errors import StateError
from nethook.config.services import DaemonSettings, ListenerSpec, ServicesConfig
from nethook.daemons.listeners import CannotRead, Listener
from nethook.daemons.live import ProcLive
from nethook.daemons.processes import Process
from nethook.engine import journal
from nethook.engine.services_check import check_pending
from nethook.model.objects import Address
from nethook.model.ports import JobResult, UnitState
from nethook.services import trigger
from nethook.services.check import Checker, Ports
from nethook.services.ratelimit import RateLimit
from nethook.services.watches import DAEMON_COMMS, Remedy, Watch

IP = ipaddress.ip_address
ALIAS = IP("203.0.113.10")
NTP = ListenerSpec("udp", 123, ALIAS)
NTPQ = ("ntpq", "-a", "1", "-k", "/etc/ntpsec/ntp.keys", "-c",
        ":config interface listen 203.0.113.10", "127.0.0.1")
INIT_D = Path(__file__).resolve().parents[1] / "fixtures" / "services" / "init.d"


class Daemon:
    """A daemon, its sockets, and the time it takes to bind: the world the check sees
    (it answers as daemons.live.ProcLive does)."""

    def __init__(self, comes_back_after: Optional[float] = None) -> None:
        self.now = 1000.0
        self.table: List[Listener] = []
        self.bind_at = None if comes_back_after is None else self.now + comes_back_after
        self.commands: List[Tuple[str, ...]] = []
        self.ntpq_answer = "Config Succeeded"
        self.ntpq_binds = True
        self.pid = 4242
        self.unreadable = False  # its /proc/PID/fd: another user's, without the capabilities
        self.on_table: Optional[Callable[[], None]] = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def table_now(self) -> Sequence[Listener]:
        if self.on_table is not None:
            self.on_table()
        if self.bind_at is not None and self.now >= self.bind_at:
            self.table = [Listener("udp", ALIAS, 123, inode=7)]
        return list(self.table)

    def running(self, comms: Collection[str]) -> Dict[str, List[Process]]:
        if "ntpd" not in comms:
            return {}
        return {"ntpd": [Process(self.pid, "ntpd", ("/usr/sbin/ntpd", "-n"), 1)]}

    def sockets_of(self, pid: int) -> FrozenSet[int]:
        if self.unreadable:
            raise CannotRead(f"cannot read /proc/{pid}/fd: Permission denied")
        return frozenset({7}) if pid == self.pid else frozenset()

    def read_pid(self, path: str) -> Optional[int]:
        return None

    def run(self, argv: Sequence[str], timeout: float) -> Tuple[int, str]:
        self.commands.append(tuple(argv))
        if argv[0] == "ntpq" and self.ntpq_binds and "Succeeded" in self.ntpq_answer:
            self.bind_at = self.now + 2.0  # ntpd's grace after :config
        return 0, self.ntpq_answer

    def ports(self, units: Callable[[], object]) -> Ports:
        return Ports(units=units, live=Live(self), run=self.run,  # type: ignore[arg-type]
                     clock=self.clock, sleep=self.sleep)


class Live:
    """The daemon, seen through the live port."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.running = daemon.running
        self.sockets_of = daemon.sockets_of
        self.read_pid = daemon.read_pid

    def table(self) -> Sequence[Listener]:
        return self.daemon.table_now()


class Units:
    """systemd as the check sees it: a unit with a state; restarting binds the daemon."""

    kind = "systemd"

    def __init__(self, daemon: Daemon, state: str = "active") -> None:
        self.daemon = daemon
        self.state = state
        self.calls: List[str] = []

    def find(self, candidates: Sequence[str], pid: Optional[int]) -> Optional[UnitState]:
        self.calls.append(f"find {','.join(candidates)} pid={pid}")
        return UnitState("ntpsec.service", self.state) if self.state != "absent" else None

    def try_restart(self, unit: str) -> JobResult:
        self.calls.append(f"try-restart {unit}")
        if self.state == "active":
            self.daemon.bind_at = self.daemon.now + 0.5
            self.daemon.pid += 1  # a new main process, holding the new socket
        return JobResult(True, f"TryRestartUnit {unit}: job done")

    def reload_or_try_restart(self, unit: str) -> JobResult:
        self.calls.append(f"reload {unit}")
        self.daemon.bind_at = self.daemon.now + 0.3
        return JobResult(True, f"ReloadOrTryRestartUnit {unit}: job done")


def ntpd_watch(*remedies: Remedy, wait: int = 5) -> Watch:
    return Watch("ntpd", (NTP,), wait, remedies or (Remedy("ntpq", NTPQ), Remedy("restart")),
                 ("ntp.service", "ntpsec.service", "ntpd.service"), comm="ntpd", pid=4242)


def checker(tmp_path: Path, daemon: Daemon, units: Optional[Units] = None,
            interval: int = 60) -> Tuple[Checker, List[Units]]:
    opened: List[Units] = []

    def open_units() -> Units:
        opened.append(units or Units(daemon))
        return opened[-1]

    limiter = RateLimit(tmp_path / "state", interval, now=daemon.clock)
    return Checker("eth0", limiter, daemon.ports(open_units)), opened


def test_ntpd_comes_back_on_its_own(tmp_path: Path) -> None:
    daemon = Daemon(comes_back_after=1.45)
    check, opened = checker(tmp_path, daemon)
    [outcome] = check.run([ntpd_watch()])
    assert (outcome.result, outcome.after_ms, outcome.remedies) == ("listening", 1500.0, [])
    assert daemon.commands == [] and opened == []  # no ntpq, no unit manager (no D-Bus)
    assert not (tmp_path / "state" / "services" / "remedies.json").exists()


def test_a_socket_of_another_program_does_not_count(tmp_path: Path) -> None:
    daemon = Daemon()
    daemon.table = [Listener("udp", ALIAS, 123, inode=99)]  # chronyd's, say
    check, _ = checker(tmp_path, daemon)
    [outcome] = check.run([ntpd_watch(Remedy("restart"), wait=1)])
    assert outcome.result == "restarted"


def test_a_socket_it_cannot_read_is_neither_listening_nor_missing(tmp_path: Path) -> None:
    daemon = Daemon(comes_back_after=0.5)
    daemon.unreadable = True
    check, opened = checker(tmp_path, daemon)
    [outcome] = check.run([ntpd_watch(wait=1)])
    assert (outcome.result, outcome.remedies, outcome.missing) == ("could not read", [], [])
    assert outcome.unknown == "cannot read /proc/4242/fd: Permission denied"
    assert daemon.commands == [] and opened == []  # no remedy on a guess
    assert outcome.to_json()["unknown"] == outcome.unknown


def test_a_restarted_daemon_is_found_again_by_its_new_process(tmp_path: Path) -> None:
    daemon = Daemon()
    check, _ = checker(tmp_path, daemon)
    [outcome] = check.run([ntpd_watch(Remedy("restart"), wait=1)])
    assert (outcome.result, daemon.pid) == ("restarted", 4243)


def test_not_back_within_the_wait_rebound_through_ntpq(tmp_path: Path) -> None:
    daemon = Daemon()
    check, opened = checker(tmp_path, daemon)
    [outcome] = check.run([ntpd_watch(wait=5)])
    assert outcome.result == "rebound"
    assert daemon.commands == [NTPQ]
    assert outcome.remedies == ["ntpq :config: Config Succeeded"]
    assert opened == []  # the unit manager was never needed
    assert outcome.after_ms is not None and outcome.after_ms >= 7000  # 5 s wait + 2 s grace


def test_ntpq_refused_then_restart(tmp_path: Path) -> None:
    daemon = Daemon()
    daemon.ntpq_answer = "***Server error code PERMISSION"
    check, opened = checker(tmp_path, daemon)
    [outcome] = check.run([ntpd_watch()])
    assert outcome.result == "restarted"
    assert outcome.remedies == ["ntpq :config: ***Server error code PERMISSION",
                                "restart: TryRestartUnit ntpsec.service: job done"]
    assert opened[0].calls == ["find ntp.service,ntpsec.service,ntpd.service pid=4242",
                               "try-restart ntpsec.service"]


def test_ntpq_accepted_but_still_deaf_then_restart(tmp_path: Path) -> None:
    daemon = Daemon()
    daemon.ntpq_binds = False
    check, opened = checker(tmp_path, daemon)
    [outcome] = check.run([ntpd_watch()])
    assert outcome.result == "restarted"
    assert [r.split(":")[0] for r in outcome.remedies] == ["ntpq ", "restart"]
    assert opened[0].calls[-1] == "try-restart ntpsec.service"


def test_a_stopped_unit_is_never_started(tmp_path: Path) -> None:
    daemon = Daemon()
    units = Units(daemon, state="inactive")
    check, _ = checker(tmp_path, daemon, units)
    [outcome] = check.run([ntpd_watch(Remedy("restart"), wait=1)])
    assert outcome.result == "failed"
    assert units.calls == ["find ntp.service,ntpsec.service,ntpd.service pid=4242"]
    assert outcome.remedies == ["restart: ntpsec.service is inactive: nethook never starts "
                                "a service that was not running"]


def test_no_unit_at_all(tmp_path: Path) -> None:
    daemon = Daemon()
    check, _ = checker(tmp_path, daemon, Units(daemon, state="absent"))
    [outcome] = check.run([ntpd_watch(Remedy("restart"), wait=1)])
    assert outcome.result == "failed"
    assert outcome.remedies == ["restart: no unit found (systemd; tried ntp.service, "
                                "ntpsec.service, ntpd.service)"]


def test_one_remedy_per_interval_under_a_burst(tmp_path: Path) -> None:
    daemon = Daemon()
    results = []
    restarts = 0
    for _ in range(4):  # a flapping link: the alias is lost and restored again and again
        daemon.table, daemon.bind_at = [], None
        units = Units(daemon)
        check, _ = checker(tmp_path, daemon, units)
        [outcome] = check.run([ntpd_watch(Remedy("restart"), wait=2)])
        results.append(outcome.result)
        restarts += units.calls.count("try-restart ntpsec.service")
    assert results == ["restarted", "rate-limited", "rate-limited", "rate-limited"]
    assert restarts == 1
    daemon.now += 60  # the interval is over
    daemon.table, daemon.bind_at = [], None
    check, _ = checker(tmp_path, daemon)
    assert check.run([ntpd_watch(Remedy("restart"), wait=2)])[0].result == "restarted"


def test_the_rate_limit_record(tmp_path: Path) -> None:
    now = [5000.0]
    limit = RateLimit(tmp_path, 60, now=lambda: now[0])
    assert limit.check("ntpd").allowed
    limit.record("ntpd", "restart")
    now[0] += 59
    verdict = limit.check("ntpd")
    assert (verdict.allowed, verdict.describe(60)) == (
        False, "last remedy (restart) 59 s ago; at most one per 60 s, the next in 1 s")
    assert limit.check("chrony").allowed  # per service
    now[0] += 1
    assert limit.check("ntpd").allowed
    now[0] -= 3600  # the clock was set back an hour: a record from the future is ignored
    assert limit.check("ntpd").allowed
    record = json.loads((tmp_path / "services" / "remedies.json").read_text())
    assert record == {"version": 1, "remedies": {"ntpd": {"time": 5000.0, "action": "restart"}}}


def test_an_unreadable_record_blocks_remedies(tmp_path: Path) -> None:
    path = tmp_path / "state" / "services" / "remedies.json"
    path.parent.mkdir(parents=True)
    path.write_text("{torn")
    with pytest.raises(StateError, match="delete it to reset"):
        RateLimit(tmp_path / "state", 60).check("ntpd")
    daemon = Daemon()
    check, opened = checker(tmp_path, daemon)
    [outcome] = check.run([ntpd_watch(wait=1)])
    assert outcome.result == "failed" and daemon.commands == [] and opened == []


def test_a_unit_wildcard_listener_serves_the_address(tmp_path: Path) -> None:
    daemon = Daemon()
    daemon.table = [Listener("tcp", IP("0.0.0.0"), 443, inode=5)]
    watch = Watch("nginx.service", (ListenerSpec("tcp", 443, ALIAS),), 1,
                  (Remedy("restart"),), ("nginx.service",), wildcard_ok=True)
    check, opened = checker(tmp_path, daemon)
    assert check.run([watch])[0].result == "listening" and opened == []


def test_before_commands_run_once_per_check(tmp_path: Path) -> None:
    daemon = Daemon()
    watch = Watch("chrony", (), 1, (Remedy("restart"),), ("chrony.service",),
                  before=(("chronyc", "onoffline"),))
    check, _ = checker(tmp_path, daemon)
    check.wait([watch])
    check.wait([watch])
    assert daemon.commands == [("chronyc", "onoffline")]


# --- the hook's queue and the detached check -----------------------------------------

CONFIG = """\
version: 1
services:
  ntpd: false
  units:
    - {unit: web.service, listen: [tcp/8080@203.0.113.10], wait: 1}
"""


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    (tmp_path / "nethook.yaml").write_text(CONFIG)
    return RunContext(root=tmp_path / "root", config=tmp_path / "nethook.yaml",
                      state_dir=tmp_path / "state", run_dir=tmp_path / "run", lock_timeout=5)


def alias(text: str, label: Optional[str] = None) -> Address:
    return Address("eth0", ipaddress.ip_interface(text), label)


def test_a_burst_of_restores_starts_one_check(ctx: RunContext) -> None:
    started: List[str] = []

    def spawn(run_ctx: RunContext, ifname: str) -> None:
        started.append(ifname)

    for text in ("203.0.113.10/24", "203.0.113.11/24", "203.0.113.10/24"):
        restored = [alias(text, "eth0:0")]
        trigger.after_run(ctx, "eth0", restored, restored, None, spawn=spawn)
    assert started == ["eth0"]
    assert trigger.take(ctx.run_dir, "eth0") == [alias("203.0.113.10/24", "eth0:0"),
                                                 alias("203.0.113.11/24", "eth0:0")]
    trigger.release(ctx.run_dir, "eth0")
    trigger.after_run(ctx, "eth0", [alias("203.0.113.12/24")], [alias("203.0.113.12/24")], None,
                      spawn=spawn)
    assert started == ["eth0", "eth0"]  # the first check was done: a new one


def test_nothing_restored_or_nothing_watched_starts_nothing(ctx: RunContext,
                                                            tmp_path: Path) -> None:
    if ProcLive().running(set(DAEMON_COMMS.values())):
        pytest.skip("a watched daemon runs in this network namespace")
    started: List[str] = []
    assert not trigger.after_run(ctx, "eth0", [], [], None,
                                 spawn=lambda c, i: started.append(i))
    unwatched = RunContext(root=tmp_path / "root", config=tmp_path / "plain.yaml",
                           state_dir=tmp_path / "s2", run_dir=tmp_path / "r2")
    (tmp_path / "plain.yaml").write_text("version: 1\ninterfaces:\n  eth0:\n"
                                         "    addresses: [203.0.113.10/24]\n")
    restored = [alias("203.0.113.10/24")]
    assert not trigger.after_run(unwatched, "eth0", restored, restored, None,
                                 spawn=lambda c, i: started.append(i))
    assert started == []
    assert not (unwatched.run_dir / "services" / "pending" / "eth0").exists()


@pytest.mark.parametrize("text, mentions", [
    ("version: 1\nservices:\n  units: []\n", True),
    ("{version: 1, services: {ntpd: false}}\n", True),
    ("version: 1\n# services:\n", True),  # errs towards checking; the check reads it right
    ("version: 1\ninterfaces: {eth0: {addresses: [10.0.0.5/24]}}\n", False),
    ("version: 1\nmyservices: 1\n", False),
])
def test_the_hooks_cheap_test_for_a_services_section(text: str, mentions: bool) -> None:
    assert bool(trigger._MENTIONS_SERVICES.search(text)) is mentions


def test_a_stale_marker_is_taken_over(ctx: RunContext) -> None:
    import os

    assert trigger.claim(ctx.run_dir, "eth0")
    assert not trigger.claim(ctx.run_dir, "eth0")
    marker = trigger.marker_path(ctx.run_dir, "eth0")
    old = marker.stat().st_mtime - trigger.STALE_AFTER - 1
    os.utime(marker, (old, old))
    assert trigger.claim(ctx.run_dir, "eth0")


def test_the_check_takes_the_queue_and_journals_once(ctx: RunContext) -> None:
    daemon = Daemon()
    daemon.table = [Listener("tcp", ALIAS, 8080, inode=3)]
    trigger.append(ctx.run_dir, "eth0", [alias("203.0.113.10/24", "eth0:0")])
    assert trigger.claim(ctx.run_dir, "eth0")
    ports = daemon.ports(lambda: pytest.fail("no unit manager needed"))
    assert check_pending(ctx, "eth0", ports) == 0
    [entry] = [e for e in journal.entries(ctx.state_dir) if "services_check" in e]
    assert entry["services_check"]["addresses"] == ["203.0.113.10/24"]
    assert entry["services"] == [{"service": "web.service", "expected": ["tcp/8080@203.0.113.10"],
                                  "result": "listening", "after_ms": 0.0, "missing": [],
                                  "remedies": []}]
    assert not trigger.marker_path(ctx.run_dir, "eth0").exists()
    assert check_pending(ctx, "eth0", ports) == 0  # nothing queued: no second entry
    assert len([e for e in journal.entries(ctx.state_dir) if "services_check" in e]) == 1


def test_restores_during_the_wait_join_the_running_check(ctx: RunContext) -> None:
    daemon = Daemon()
    restored_late: Dict[str, bool] = {}

    def second_restore() -> None:
        if not restored_late:  # a second restore lands while the check waits
            restored_late["yes"] = True
            late = [alias("203.0.113.11/24")]
            trigger.after_run(ctx, "eth0", late, late, None,
                              spawn=lambda c, i: pytest.fail("no second check"))

    daemon.table = [Listener("tcp", ALIAS, 8080, 3)]
    daemon.on_table = second_restore

    trigger.append(ctx.run_dir, "eth0", [alias("203.0.113.10/24")])
    assert trigger.claim(ctx.run_dir, "eth0")
    ports = daemon.ports(lambda: pytest.fail("no unit manager needed"))
    check_pending(ctx, "eth0", ports)
    [entry] = [e for e in journal.entries(ctx.state_dir) if "services_check" in e]
    assert entry["services_check"]["addresses"] == ["203.0.113.10/24", "203.0.113.11/24"]


# --- init scripts ---------------------------------------------------------------------

def init_root(tmp_path: Path) -> Path:
    scripts = tmp_path / "etc" / "init.d"
    scripts.mkdir(parents=True)
    for name in ("ntpsec", "xinetd"):
        (scripts / name).write_text((INIT_D / name).read_text())
    return tmp_path


def test_init_scripts_are_found_and_their_actions_read(tmp_path: Path) -> None:
    scripts = InitScripts(init_root(tmp_path))
    assert scripts.find(["ntp.service", "ntpsec.service"], 4242) == UnitState("ntpsec", "running")
    assert scripts.find(["chrony.service"], None) is None
    assert scripts._action("ntpsec", ("try-restart", "condrestart")) == "try-restart"
    # Debian's xinetd script has neither: nethook will not restart it blindly.
    assert scripts._action("xinetd", ("try-restart", "condrestart")) is None
    assert scripts._action("xinetd", ("reload",)) == "reload"
    assert scripts.try_restart("xinetd.service") == JobResult(
        False, "init script xinetd has neither try-restart nor condrestart; not restarting it")


def test_init_scripts_run_only_on_the_live_system(tmp_path: Path) -> None:
    scripts = InitScripts(init_root(tmp_path))
    result = scripts.try_restart("ntpsec.service")
    assert result == JobResult(False, f"not running init script ntpsec: the root is {tmp_path}, "
                                      "and scripts run only on the live system")


# --- the services step of every run: verify what is present, then remedy --------------

def run_ctx(tmp_path: Path) -> RunContext:
    return RunContext(root=tmp_path / "root", config=tmp_path / "none.yaml",
                      state_dir=tmp_path / "state", run_dir=tmp_path / "run")


def test_a_deaf_daemon_on_a_present_address_starts_a_check(tmp_path: Path) -> None:
    """Nothing restored (the address never went), ntpd deaf on it: verify, queue, spawn."""
    daemon = Daemon()
    ctx, started = run_ctx(tmp_path), []
    present = [alias("203.0.113.10/24", "eth0:0")]
    assert trigger.after_run(ctx, "eth0", present, [], ServicesConfig(), live=Live(daemon),
                             spawn=lambda c, i: started.append(i))
    assert started == ["eth0"]
    assert trigger.take(ctx.run_dir, "eth0") == present


def test_a_listening_daemon_starts_nothing(tmp_path: Path) -> None:
    daemon = Daemon(comes_back_after=0)
    ctx = run_ctx(tmp_path)
    assert not trigger.after_run(ctx, "eth0", [alias("203.0.113.10/24", "eth0:0")], [],
                                 ServicesConfig(), live=Live(daemon),
                                 spawn=lambda c, i: pytest.fail("nothing to check"))
    assert trigger.take(ctx.run_dir, "eth0") == []


def test_sockets_it_cannot_read_start_nothing_and_say_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    daemon = Daemon()
    daemon.unreadable = True
    assert not trigger.after_run(run_ctx(tmp_path), "eth0", [alias("203.0.113.10/24")], [],
                                 ServicesConfig(), live=Live(daemon),
                                 spawn=lambda c, i: pytest.fail("nothing to check"))
    assert "ntpd: cannot tell whether it listens on udp/123@203.0.113.10: cannot read " \
           "/proc/4242/fd: Permission denied" in caplog.text


def test_no_watched_daemon_and_no_units_reads_no_daemon_configuration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What every hook pays when nothing is watched: one look at /proc, nothing parsed."""
    from nethook.services import setups

    def no_parsing(*args: object) -> None:
        pytest.fail("a daemon's configuration was read")

    for name in ("ntpd_setup", "chrony_setup", "xinetd_setup"):
        monkeypatch.setattr(setups, name, no_parsing)
    daemon = Daemon()
    settings = ServicesConfig(ntpd=DaemonSettings(False, 5))  # ntpd runs, but is not watched
    assert not trigger.after_run(run_ctx(tmp_path), "eth0", [alias("203.0.113.10/24")],
                                 [alias("203.0.113.10/24")], settings, live=Live(daemon),
                                 spawn=lambda c, i: pytest.fail("nothing to check"))


def test_restored_addresses_are_queued_without_looking(tmp_path: Path) -> None:
    daemon = Daemon(comes_back_after=0)  # listening already: the check will see it
    ctx, started = run_ctx(tmp_path), []
    restored = [alias("203.0.113.10/24")]
    assert trigger.after_run(ctx, "eth0", restored, restored, ServicesConfig(),
                             live=Live(daemon), spawn=lambda c, i: started.append(i))
    assert trigger.take(ctx.run_dir, "eth0") == restored
