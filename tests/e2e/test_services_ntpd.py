"""ntpsec's real ntpd in a test namespace: nethook restores the alias, ntpd listens again.

The namespace's eth0 has the lease 10.77.0.10/24 and the alias 10.77.0.50/24 (label
eth0:0) that nethook's configuration declares; ntpd runs there as tests/lab/services_lab.py
describes (no cap_sys_time, ``disable ntp``/``disable kernel``, its own files) with
``interface listen`` rules for the lease and the alias. The alias is deleted as a lease
change deletes it, ntpd logs ``Deleting interface ... eth0:0, 10.77.0.50#123``, and
``nethook hook dhclient-exit`` (a BOUND, as dhclient-script runs it) restores the alias and
starts the detached services check. What ntpd binds is read from the namespace's socket
table with nethook's own reader.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.nethook_env import NethookDirs
from lab.netns import VethNamespace, veth_namespace
from lab.procs import terminate
from lab.services_lab import (
    ALIAS,
    CHILD_PATH,
    DELETED,
    LEASE,
    LISTENING,
    PREFIX,
    Ntpd,
    alias_config,
    has_address,
    listens,
    ntpd_pids,
    require_tools,
    run_hook,
    wait_for,
    wait_for_checks,
)

pytestmark = [pytest.mark.privileged, pytest.mark.e2e]

RULES = [f"interface listen {LEASE}", f"interface listen {ALIAS}"]
CLOCK_REFUSED = re.compile(r"ntp_adjtime: Operation not permitted")
CONFIG_ASKED = re.compile(r"config: interface listen 10\.77\.0\.50\b")


@pytest.fixture
def lab() -> Iterator[VethNamespace]:
    require_tools("ntpd", "ntpq", "setpriv")
    with veth_namespace(ipv6=False) as lab:
        lab.ns.ip("addr", "add", f"{LEASE}/{PREFIX}", "dev", "eth0")
        lab.ns.ip("addr", "add", f"{ALIAS}/{PREFIX}", "dev", "eth0", "label", "eth0:0")
        yield lab


def start_ntpd(lab: VethNamespace, ntpd: Ntpd) -> None:
    proc = lab.ns.spawn(ntpd.argv())
    if not wait_for(lambda: listens(lab.ns, "udp", LEASE, 123), 10):
        terminate(proc)
        raise AssertionError(f"ntpd did not start:\n{ntpd.log_text()}")


def status(lab: VethNamespace, dirs: NethookDirs) -> tuple[int, list[dict[str, Any]]]:
    """``nethook status --json`` in the namespace: its exit status and ntpd's listeners."""
    done = lab.ns.run(["env", "-i", f"PATH={CHILD_PATH}", *(f"{k}={v}" for k, v in
                                                             dirs.env().items()),
                       sys.executable, "-m", "nethook", "status", "--json"], check=False)
    [ntpd] = [s for s in json.loads(done.stdout)["services"] if s["service"] == "ntpd"]
    return done.returncode, ntpd["listeners"]


def lose_alias(lab: VethNamespace) -> None:
    lab.ns.ip("addr", "del", f"{ALIAS}/{PREFIX}", "dev", "eth0")


def test_ntpd_listens_on_the_restored_alias_again(lab: VethNamespace, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    dirs = NethookDirs.create(tmp_path / "nethook", config=alias_config())
    ntpd = Ntpd(tmp_path / "ntpd")
    ntpd.write_conf(RULES)
    start_ntpd(lab, ntpd)
    assert wait_for(lambda: listens(lab.ns, "udp", ALIAS, 123), 10)
    # Without cap_sys_time, ntpd's every attempt at the (host's) clock fails.
    assert ntpd.wait_for_log(CLOCK_REFUSED), ntpd.log_text()

    lose_alias(lab)
    assert ntpd.wait_for_log(DELETED, timeout=10), ntpd.log_text()
    assert not listens(lab.ns, "udp", ALIAS, 123)
    assert status(lab, dirs) == (1, [{"state": "missing", "listener": f"udp/123@{ALIAS}",
                                      "note": None}])

    run_hook(lab.ns, dirs)
    restored_at = time.monotonic()
    assert has_address(lab.ns, ALIAS)
    assert wait_for(lambda: listens(lab.ns, "udp", ALIAS, 123), 8), ntpd.log_text()
    took = time.monotonic() - restored_at

    [check] = wait_for_checks(lab.ns, dirs, 1)
    [outcome] = check["services"]
    assert (outcome["service"], outcome["result"], outcome["remedies"]) == (
        "ntpd", "listening", [])
    assert outcome["expected"] == [f"udp/123@{ALIAS}"]
    assert ntpd.wait_for_log(LISTENING, count=2), ntpd.log_text()  # at start, and again
    assert status(lab, dirs) == (0, [{"state": "present", "listener": f"udp/123@{ALIAS}",
                                      "note": None}])
    with capsys.disabled():
        print(f"\nntpd listened on {ALIAS}:123 again {took:.2f} s after `nethook hook` "
              f"restored the alias (the detached check saw it {outcome['after_ms']:.0f} ms "
              "after it started)")


def test_ntpd_that_stays_deaf_is_rebound_through_ntpq_once(lab: VethNamespace,
                                                            tmp_path: Path) -> None:
    """ntpd that does not come back on its own, with a control key: one ``ntpq :config``.

    Why this deafness is faithful: nethook decides from ntp.conf, which says ``interface
    listen 10.77.0.50``; the running ntpd got ``interface ignore 10.77.0.50`` at runtime
    (``ntpq :config``, as an administrator or a tool can send it), so it really does not
    bind the alias when it comes back, exactly as an ntpd that missed the netlink event or
    cannot rescan (classic ntpd under ``-U 0``, one dropped to a user without
    CAP_NET_BIND_SERVICE) stays deaf. nethook's remedy is the real one: its ``:config
    interface listen 10.77.0.50`` is newer than the ignore rule, so ntpd, on its next
    rescan, binds the alias. ntpd logs every :config it gets, which counts nethook's.
    """
    dirs = NethookDirs.create(tmp_path / "nethook", config=alias_config(
        services="services:\n  ntpd: {wait: 2}\n"))
    ntpd = Ntpd(tmp_path / "ntpd")
    ntpd.write_conf(RULES, key=True)
    start_ntpd(lab, ntpd)
    assert wait_for(lambda: listens(lab.ns, "udp", ALIAS, 123), 10)

    def make_deaf(times: int) -> None:
        assert "Config Succeeded" in ntpd.ntpq(lab.ns, f":config interface ignore {ALIAS}")
        assert ntpd.wait_for_log(DELETED, count=times), ntpd.log_text()

    make_deaf(1)
    lose_alias(lab)
    run_hook(lab.ns, dirs)
    assert has_address(lab.ns, ALIAS)
    [check] = wait_for_checks(lab.ns, dirs, 1)
    [outcome] = check["services"]
    assert outcome["result"] == "rebound", check
    assert outcome["remedies"] == ["ntpq :config: Config Succeeded"]
    assert listens(lab.ns, "udp", ALIAS, 123)
    assert len(CONFIG_ASKED.findall(ntpd.log_text())) == 1

    # A burst: deaf again, and the alias lost and restored three times in a row. One check
    # takes all three restores; the rate limit (one remedy a minute) holds it back.
    make_deaf(2)
    pid = ntpd_pids(lab.ns)
    for _ in range(3):
        lose_alias(lab)
        run_hook(lab.ns, dirs)
    checks = wait_for_checks(lab.ns, dirs, 2)
    assert len(checks) == 2, checks  # the burst made one check
    [outcome] = checks[1]["services"]
    assert outcome["result"] == "rate-limited", checks[1]
    assert outcome["remedies"] == []
    assert not listens(lab.ns, "udp", ALIAS, 123)  # nethook really did nothing
    assert len(CONFIG_ASKED.findall(ntpd.log_text())) == 1
    assert ntpd_pids(lab.ns) == pid  # and never restarted ntpd
