"""nethook's shipped Debian dhclient shims, driven by the real programs.

Real dnsmasq and isc dhclient run Debian's stock /sbin/dhclient-script in the lab of
tests/lab/dhcp_lab.py. The lab's /etc/dhcp hook directories hold byte-for-byte copies of
hooks/dhclient-enter-hooks.d/nethook and hooks/dhclient-exit-hooks.d/nethook, and
/usr/bin/nethook (an overlay seen only inside the lab) is a wrapper running this checkout
with the test's NETHOOK_* directories (tests/lab/nethook_env.py).

A renumbering is a production server change: dnsmasq maps the client to another address,
the next unicast renewal is NAKed, and dhclient runs EXPIRE -> PREINIT -> BOUND. EXPIRE
flushes the lease's label; the kernel drops the same-subnet aliases with their primary
(promote_secondaries=0) and empties table 100 when eth0 has no IPv4 address left.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lab.dhcp_lab import (
    DhcpLab,
    IfAddress,
    MonitorEvent,
    Mount,
    host_mount_leaks,
    missing_requirements,
)
from lab.nethook_env import (
    DEBIAN_ENTER,
    DEBIAN_EXIT,
    NethookDirs,
    install_shim,
    lab_config,
)
from lab.netns import require

pytestmark = [pytest.mark.privileged, pytest.mark.e2e]

FIRST, SECOND, ROUTER = "10.77.0.10", "10.77.0.11", "10.77.0.1"
ALIASES = (("10.77.0.50", "eth0:0"), ("10.77.0.51", "eth0:1"))
ALIAS = ALIASES[0][0]
TABLE, PRIORITY = 100, 1000
# T1=2: dhclient renews every 2-3 s, so a renumbering is seen within 3 s.
T1, T2 = 2, 4

DECLARED_ALIASES = lab_config(snapshot=False)
DECLARED_POLICY = lab_config(policy=True, snapshot=False)


def _require_tools() -> None:
    problem = missing_requirements()
    if problem:
        require(problem)


@contextmanager
def hooked_lab(tmp_path: Path, config: str | None = None,
               **lab_options: Any) -> Iterator[tuple[DhcpLab, NethookDirs]]:
    """A lab whose dhclient-script runs the shipped shims and this checkout's nethook."""
    _require_tools()
    assert host_mount_leaks() == []
    dirs = NethookDirs.create(tmp_path / "nethook", config)
    bin_dir = dirs.wrapper(log_stderr=True)
    options: dict[str, Any] = {"address": FIRST, "t1": T1, "t2": T2}
    options.update(lab_options)
    with DhcpLab(autostart=False, extra_mounts=[Mount(str(bin_dir), "/usr/bin", "overlay")],
                 **options) as lab:
        enter = install_shim(DEBIAN_ENTER, lab.enter_hook_dir)
        leave = install_shim(DEBIAN_EXIT, lab.exit_hook_dir)
        assert enter.read_bytes() == DEBIAN_ENTER.read_bytes()
        assert leave.read_bytes() == DEBIAN_EXIT.read_bytes()
        lab.start_dhclient()
        yield lab, dirs
        assert not _tracebacks(lab, dirs)
    assert host_mount_leaks() == []


def _tracebacks(lab: DhcpLab, dirs: NethookDirs) -> list[str]:
    logs = [dirs.stderr_log, lab.log("dhclient")]
    return [str(p) for p in logs if p.exists() and "Traceback" in p.read_text(errors="replace")]


def _shape(addresses: Sequence[IfAddress]) -> list[tuple[str, str, bool]]:
    """The first address as listed (the primary), then the others in address order."""
    shapes = [(a.cidr, a.label, a.secondary) for a in addresses]
    return shapes[:1] + sorted(shapes[1:])


def _expected(lease: str, aliases: Sequence[tuple[str, str]] = ALIASES
              ) -> list[tuple[str, str, bool]]:
    """The lease as the primary (listed first), then the aliases as secondaries."""
    return [(f"{lease}/24", "eth0", False),
            *sorted((f"{ip}/24", label, True) for ip, label in aliases)]


def _add_aliases(lab: DhcpLab, aliases: Sequence[tuple[str, str]] = ALIASES) -> None:
    for ip, label in aliases:
        lab.ip("addr", "add", f"{ip}/24", "dev", "eth0", "label", label)


def _renumber(lab: DhcpLab, address: str) -> datetime.datetime:
    """Move the lease to ``address`` (EXPIRE -> PREINIT -> BOUND); returns when it started."""
    started = datetime.datetime.now()
    mark = lab.mark()
    lab.renumber(address)
    lab.wait_for_sequence(["EXPIRE", "PREINIT", "BOUND"], after=mark, timeout=10)
    lab.wait_bound(address, after=mark)
    return started


def _rules(lab: DhcpLab) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = json.loads(lab.ip("-j", "-4", "rule", "show").stdout)
    return [r for r in rules if r.get("priority") == PRIORITY]


def _table_routes(lab: DhcpLab) -> list[dict[str, Any]]:
    out = lab.ip("-j", "-4", "route", "show", "table", str(TABLE)).stdout
    return list(json.loads(out or "[]"))


def _outage(events: Sequence[MonitorEvent], address: str,
            since: datetime.datetime) -> float | None:
    """Seconds from the kernel's deletion of ``address`` to its next addition, or None."""
    needle = f"inet {address}/"
    deleted = next((e for e in events if e.time >= since and e.deleted and needle in e.text),
                   None)
    if deleted is None:
        return None
    added = next((e for e in events if e.time >= deleted.time and not e.deleted
                  and needle in e.text), None)
    return None if added is None else (added.time - deleted.time).total_seconds()


def _ms(delta: datetime.timedelta) -> float:
    return delta.total_seconds() * 1000


def _runs(dirs: NethookDirs, reason: str, source: str = "dhclient") -> list[dict[str, Any]]:
    return [e for e in dirs.journal() if "plan" in e
            and e["event"]["reason"] == reason and e["event"]["source"] == source]


# -- (1) snapshot only: no configuration at all -------------------------------------------


def test_renumber_restores_hand_made_aliases_from_the_snapshot(tmp_path: Path) -> None:
    with hooked_lab(tmp_path, monitor_objects=("address",)) as (lab, dirs):
        lab.wait_bound(FIRST)
        _add_aliases(lab)
        assert _shape(lab.addresses()) == _expected(FIRST)

        since = _renumber(lab, SECOND)

        addresses = lab.addresses()
        assert _shape(addresses) == _expected(SECOND)
        assert FIRST not in [a.address for a in addresses]  # the old lease stays gone
        # Restored in full, the snapshot is consumed: hooks no longer apply it.
        assert dirs.snapshot("eth0") is None
        snapshot = dirs.snapshot("eth0", consumed=True)
        assert snapshot is not None and snapshot["reason"] == "EXPIRE"
        assert sorted(o["address"] for o in snapshot["objects"]) == [
            f"{ip}/24" for ip, _ in ALIASES]
        [bound] = [r for r in _runs(dirs, "BOUND") if r["event"]["new_address"] == f"{SECOND}/24"]
        assert bound["exit"] == 0
        assert sorted(bound["plan"]) == [
            f"ip -4 address add {ip}/24 dev eth0 label {label}" for ip, label in ALIASES]
        assert not any(FIRST in op for op in bound["plan"])
        # The kernel really dropped them: measure for how long.
        events = lab.monitor_events()
        windows = {ip: _outage(events, ip, since) for ip, _ in ALIASES}
        assert all(w is not None for w in windows.values()), events
        gone = next(e.time for e in events if e.time >= since and e.deleted
                    and f"inet {ALIAS}/" in e.text)
        lease = next(e.time for e in events if e.time >= gone and not e.deleted
                     and f"inet {SECOND}/" in e.text)
        print("\noutage window (ip -ts monitor, Deleted -> re-added): "
              + ", ".join(f"{ip} {w * 1000:.1f} ms" for ip, w in windows.items() if w)
              + f"; of which the new lease appeared after {_ms(lease - gone):.1f} ms")


def test_dhclient_script_sees_the_shipped_shims_and_the_wrapper(tmp_path: Path) -> None:
    with hooked_lab(tmp_path) as (lab, dirs):
        lab.wait_bound(FIRST)
        for shim, where in ((DEBIAN_ENTER, "/etc/dhcp/dhclient-enter-hooks.d"),
                            (DEBIAN_EXIT, "/etc/dhcp/dhclient-exit-hooks.d")):
            listed = lab.run_wrapped(["run-parts", "--list", where]).stdout.split()
            assert f"{where}/nethook" in listed
            seen = lab.run_wrapped(["cat", f"{where}/nethook"]).stdout
            assert seen.encode() == shim.read_bytes()
        wrapper = lab.run_wrapped(["cat", "/usr/bin/nethook"]).stdout
        assert str(dirs.state) in wrapper and sys.executable in wrapper
        host = Path("/usr/bin/nethook")  # the host's /usr/bin never gets the wrapper
        assert not host.exists() or host.read_bytes() != wrapper.encode()
        # PREINIT runs no nethook; the BOUND exit hook ran it once.
        assert dirs.call_count() == 1 and len(_runs(dirs, "BOUND")) == 1


def test_an_alias_removed_by_hand_after_the_renumber_stays_removed(tmp_path: Path) -> None:
    """The snapshot holds what the lease change destroyed. Once restored, it must not
    overrule the administrator: an alias deleted on purpose afterwards stays deleted
    when the same lease is merely renewed (dhclient-script changes nothing then)."""
    with hooked_lab(tmp_path) as (lab, dirs):
        lab.wait_bound(FIRST)
        _add_aliases(lab)
        _renumber(lab, SECOND)
        assert _shape(lab.addresses()) == _expected(SECOND)
        mark = lab.mark()
        lab.ip("addr", "del", "10.77.0.51/24", "dev", "eth0")

        # A renewal that started after the deletion (its enter hooks ran after the mark).
        enter = lab.wait_for_reason("RENEW", after=mark, timeout=10, phase="enter")
        lab.wait_for_reason("RENEW", after=enter.index, timeout=10)

        renew = _runs(dirs, "RENEW")[-1]
        assert renew["plan"] == [], "the RENEW re-applied a stale snapshot"
        assert _shape(lab.addresses()) == _expected(SECOND, ALIASES[:1])


# -- (2) configuration only ---------------------------------------------------------------


def test_renumber_restores_declared_aliases_without_a_snapshot(tmp_path: Path) -> None:
    with hooked_lab(tmp_path, DECLARED_ALIASES) as (lab, dirs):
        lab.wait_bound(FIRST)
        # The first BOUND's exit hook already added what the configuration declares.
        assert _shape(lab.addresses()) == _expected(FIRST)

        _renumber(lab, SECOND)

        assert _shape(lab.addresses()) == _expected(SECOND)
        assert dirs.snapshot("eth0") is None  # snapshot: false
        assert not [e for e in dirs.journal() if "action" in e]
        [bound] = [r for r in _runs(dirs, "BOUND") if r["event"]["new_address"] == f"{SECOND}/24"]
        assert sorted(bound["plan"]) == [
            f"ip -4 address add {ip}/24 dev eth0 label {label}" for ip, label in ALIASES]


# -- (3) a rule and a table route that depend on the alias --------------------------------


@pytest.mark.parametrize("source", ["snapshot", "config"])
def test_renumber_restores_the_rule_and_table_route(tmp_path: Path, source: str) -> None:
    config = DECLARED_POLICY if source == "config" else None
    with hooked_lab(tmp_path, config) as (lab, dirs):
        lab.wait_bound(FIRST)
        if source == "snapshot":
            _add_aliases(lab)
            lab.ip("rule", "add", "from", ALIAS, "lookup", str(TABLE),
                   "priority", str(PRIORITY))
            lab.ip("route", "add", "default", "via", ROUTER, "dev", "eth0",
                   "table", str(TABLE))
        assert len(_rules(lab)) == 1 and len(_table_routes(lab)) == 1

        _renumber(lab, SECOND)

        assert _shape(lab.addresses()) == _expected(SECOND)
        [rule] = _rules(lab)
        assert (rule["src"], rule["table"]) == (ALIAS, str(TABLE))
        [route] = _table_routes(lab)
        assert (route["dst"], route["gateway"], route["dev"]) == ("default", ROUTER, "eth0")
        # Table 100 had been emptied by the kernel: the BOUND run put the route back.
        [bound] = [r for r in _runs(dirs, "BOUND") if r["event"]["new_address"] == f"{SECOND}/24"]
        assert any(op.startswith(f"ip -4 route add default via {ROUTER} dev eth0")
                   and f"table {TABLE}" in op for op in bound["plan"]), bound["plan"]
        # And traffic from the alias is routed through table 100 again.
        got = json.loads(lab.ip("-j", "-4", "route", "get", "192.0.2.1", "from", ALIAS).stdout)
        assert (got[0]["gateway"], got[0]["dev"]) == (ROUTER, "eth0")


# -- (4) a renewal with nothing missing changes nothing -----------------------------------


def test_renewals_with_nothing_missing_change_nothing(tmp_path: Path) -> None:
    with hooked_lab(tmp_path, DECLARED_POLICY,
                    monitor_objects=("address", "route", "rule")) as (lab, dirs):
        lab.wait_bound(FIRST)
        assert _shape(lab.addresses()) == _expected(FIRST)
        since = datetime.datetime.now()
        mark = lab.mark()
        journal_mark = len(dirs.journal())
        calls = dirs.call_count()

        lab.wait_for_sequence(["RENEW"] * 3, after=mark, timeout=15)

        touched = [e for e in lab.monitor_events() if e.time >= since and any(
            needle in e.text for needle in
            ("10.77.0.50", "10.77.0.51", f"lookup {TABLE}", f"table {TABLE}"))]
        assert touched == []
        renewals = dirs.journal()[journal_mark:]
        renew_runs = [e for e in renewals if e["event"]["reason"] == "RENEW"]
        assert len(renew_runs) >= 3
        # Same address: the enter shim did not even start nethook, only the exit shim did.
        assert dirs.call_count() - calls == len(renew_runs)
        assert all("plan" in e for e in renew_runs)
        assert [(e["plan"], e["results"], e["exit"]) for e in renew_runs] == [
            ([], [], 0)] * len(renew_runs)
        assert _shape(lab.addresses()) == _expected(FIRST)


# -- (5) hostile option values ------------------------------------------------------------


def _hostile_options(canary: Path) -> tuple[list[str], list[Path]]:
    """dnsmasq arguments sending shell-active option values, and the canaries they name."""
    names = ["domain", "search", "host", "root", "nis", "tftp", "boot", "msg", "text",
             "text2"]
    c = {name: canary / name for name in names}
    raw = (f"x\n$(touch {c['text']})`touch {c['text']}`;touch {c['text2']};'\"\\ "
           f"$(touch {c['text2']})").encode()
    args = [
        f"--dhcp-option=option:domain-name,x'$(touch {c['domain']})'",
        f"--dhcp-option=option:domain-search,a`touch {c['search']}`.example,b;reboot;.example",
        f"--dhcp-option=12,h;touch {c['host']};`id`",
        f"--dhcp-option=option:root-path,/x'$(touch {c['root']})'",
        f"--dhcp-option=option:nis-domain,n$(touch {c['nis']})",
        f"--dhcp-option=option:tftp-server,t$(touch {c['tftp']})",
        f"--dhcp-option=option:bootfile-name,b`touch {c['boot']}`;x\"y",
        f"--dhcp-option=56,m'$(touch {c['msg']})';`id`",
        # option 224, declared as text: a newline, ; ' " \ and commands, as raw bytes
        "--dhcp-option=224," + ":".join(f"{b:02x}" for b in raw),
    ]
    return args, list(c.values())


HOSTILE_REQUEST = (
    "subnet-mask", "broadcast-address", "routers", "interface-mtu", "domain-name",
    "domain-search", "host-name", "root-path", "nis-domain", "tftp-server-name",
    "bootfile-name", "dhcp-message", "nhl-text",
)




def test_hostile_option_values_execute_nothing(tmp_path: Path, canary: Path) -> None:
    args, canaries = _hostile_options(canary)
    with hooked_lab(tmp_path, DECLARED_ALIASES, capture_env=True, dnsmasq_args=args,
                    request=HOSTILE_REQUEST,
                    dhclient_conf_extra="option nhl-text code 224 = text;") as (lab, dirs):
        bound = lab.wait_bound(FIRST)
        env = lab.captured_env(bound)
        # The hooks did get shell-active text: dhclient passed it through, escaped, and
        # left `;` alone, so that `;touch` would run if anything evaluated the value.
        for name in ("new_nhl_text", "new_bootfile_name", "new_dhcp_message",
                     "new_tftp_server_name"):
            assert "touch" in env.get(name, ""), (name, sorted(env))
        assert f";touch {canary}/text2;" in env["new_nhl_text"]
        mark = lab.mark()
        renew = lab.wait_for_reason("RENEW", after=mark, timeout=10)
        assert "touch" in lab.captured_env(renew).get("old_nhl_text", "")

        assert [p for p in canaries if p.exists()] == []
        assert list(canary.iterdir()) == []
        assert lab.dhclient_pid is not None
        assert _shape(lab.addresses()) == _expected(FIRST)
        runs = _runs(dirs, "BOUND") + _runs(dirs, "RENEW")
        assert {r["event"]["reason"] for r in runs} == {"BOUND", "RENEW"}
        assert all(r["exit"] == 0 and r["event"]["ifname"] == "eth0" for r in runs)
        assert runs[0]["event"]["new_address"] == f"{FIRST}/24"
    assert list(canary.iterdir()) == []


# -- (6) nethook replay, by hand ----------------------------------------------------------


def _nethook(lab: DhcpLab, dirs: NethookDirs, *args: str) -> subprocess.CompletedProcess[str]:
    """``nethook ARGS`` in the client namespace, the way an administrator runs it."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **dirs.env()}
    argv = ["ip", "netns", "exec", lab.client_ns, "env", "-i",
            *(f"{k}={v}" for k, v in env.items()), sys.executable, "-m", "nethook", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd="/",
                          stdin=subprocess.DEVNULL, env={"PATH": os.environ["PATH"]})


def test_replay_restores_a_manually_flushed_alias(tmp_path: Path) -> None:
    # No renewal during the test: its exit hook would restore the alias before the replay.
    with hooked_lab(tmp_path, DECLARED_ALIASES, t1=60, t2=100) as (lab, dirs):
        lab.wait_bound(FIRST)
        assert _shape(lab.addresses()) == _expected(FIRST)
        lab.ip("addr", "flush", "dev", "eth0", "label", "eth0:0")
        assert _shape(lab.addresses()) == _expected(FIRST, ALIASES[1:])
        journal = dirs.journal()

        dry = _nethook(lab, dirs, "replay", "--dry-run", "eth0")

        assert dry.returncode == 1, dry.stderr  # something is still missing
        assert "Traceback" not in dry.stderr
        lines = dry.stdout.splitlines()
        assert lines[0].startswith("# eth0: replaying BOUND from dhclient"), lines
        assert f"ip -4 address add {ALIAS}/24 dev eth0 label eth0:0" in dry.stdout
        assert "10.77.0.51" not in dry.stdout  # present, so not in the plan
        assert _shape(lab.addresses()) == _expected(FIRST, ALIASES[1:])
        assert dirs.journal() == journal  # a dry run records nothing

        done = _nethook(lab, dirs, "replay", "eth0")

        assert done.returncode == 0, done.stderr
        assert f"applied  ip -4 address add {ALIAS}/24 dev eth0 label eth0:0" in done.stdout
        assert _shape(lab.addresses()) == _expected(FIRST)
        last = dirs.journal()[-1]
        assert (last["event"]["reason"], last["event"]["source"]) == ("BOUND", "dhclient")
        assert last["plan"] == [f"ip -4 address add {ALIAS}/24 dev eth0 label eth0:0"]

        again = _nethook(lab, dirs, "replay", "eth0")  # converged: nothing to do
        assert again.returncode == 0 and "# nothing to do" in again.stdout
