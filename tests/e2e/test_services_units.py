"""Restarts and reloads through systemd over D-Bus, against a real unit manager.

What stands in for the system manager: PID 1 here is not systemd, so the manager is a real
``systemd --user`` (systemd 252, the same binary and the same
``org.freedesktop.systemd1.Manager`` interface) that owns ``org.freedesktop.systemd1`` on a
private ``dbus-daemon`` configured as a system bus (tests/lab/systemd_user.py). nethook
reaches it exactly as it reaches the real one: dbus-next's system bus, here at
``DBUS_SYSTEM_BUS_ADDRESS``, chosen because the test's root has ``run/systemd/system``
(sd_booted). The manager runs in the test's network namespace, so its units do too: ntpd
as ``ntpsec.service`` (ExecStart is the safe ntpd command line of
tests/lab/services_lab.py) and xinetd as ``xinetd.service`` (its reload is SIGHUP, what
Debian's init script sends). Everything between the hook and the manager is nethook's
code path: ``nethook hook`` -> detached ``services-check`` -> ``GetUnitByPID`` ->
``TryRestartUnit``/``ReloadOrTryRestartUnit`` -> ``JobRemoved``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.nethook_env import NethookDirs
from lab.netns import VethNamespace, veth_namespace
from lab.services_lab import (
    ALIAS,
    LEASE,
    PREFIX,
    XINETD,
    Ntpd,
    after_run,
    alias_config,
    doctor_findings,
    has_address,
    listens,
    nethook,
    ntpd_pids,
    require,
    require_tools,
    run_hook,
    service_rows,
    wait_for,
    wait_for_checks,
)
from lab.systemd_user import UserManager, missing_requirements
from nethook.adapters.systemd_dbus import SystemdUnits
from nethook.model.ports import JobResult, UnitState
from tests.conftest import require_privileged

pytestmark = [pytest.mark.privileged, pytest.mark.e2e]

ECHO_PORT = 7777
LOOPBACK_PORT = 7778  # set up after the alias's service: it tells xinetd has tried both


@dataclass
class Lab:
    net: VethNamespace
    systemd: UserManager
    ntpd: Ntpd
    xinetd_dir: Path

    def lose_alias(self) -> None:
        self.net.ns.ip("addr", "del", f"{ALIAS}/{PREFIX}", "dev", "eth0")

    def put_alias_back(self) -> None:
        """As an administrator (or another tool) would: nethook restores nothing then."""
        self.net.ns.ip("addr", "add", f"{ALIAS}/{PREFIX}", "dev", "eth0", "label", "eth0:0")

    def deaf_xinetd(self) -> int:
        """xinetd restarted while the alias was gone, the alias back: its PID. The unit
        is active as soon as xinetd runs; xinetd sets its services up in the order of its
        configuration, so once the loopback one listens it has tried the alias's bind,
        and only then does the alias come back."""
        self.lose_alias()
        self.systemd.run_job("RestartUnit", "xinetd.service", "active")
        assert wait_for(lambda: listens(self.net.ns, "tcp", "127.0.0.1", LOOPBACK_PORT), 10)
        pid = self.systemd.main_pid("xinetd.service")
        self.put_alias_back()
        assert not listens(self.net.ns, "tcp", ALIAS, ECHO_PORT)
        return pid

    def nethook(self, base: Path, services: str) -> NethookDirs:
        dirs = NethookDirs.create(base, config=alias_config(services=services))
        (dirs.root / "run" / "systemd" / "system").mkdir(parents=True)  # "booted with systemd"
        return dirs

    def hook(self, dirs: NethookDirs) -> None:
        run_hook(self.net.ns, dirs, self.systemd.env)
        assert has_address(self.net.ns, ALIAS)


def xinetd_conf(directory: Path) -> str:
    return f"""defaults
{{
	log_type = FILE {directory}/xinetd.log
}}
service echo
{{
	type		= INTERNAL UNLISTED
	id		= echo-alias
	socket_type	= stream
	protocol	= tcp
	port		= {ECHO_PORT}
	wait		= no
	user		= root
	bind		= {ALIAS}
}}
service echo
{{
	type		= INTERNAL UNLISTED
	id		= echo-loopback
	socket_type	= stream
	protocol	= tcp
	port		= {LOOPBACK_PORT}
	wait		= no
	user		= root
	bind		= 127.0.0.1
}}
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_privileged()
    require_tools("ntpd", "setpriv", "xinetd", "nsenter", "busctl", "dbus-daemon")
    require(missing_requirements())
    base = tmp_path_factory.mktemp("units")
    ntpd = Ntpd(base / "ntpd")
    xinetd_dir = base / "xinetd"
    xinetd_dir.mkdir()
    (xinetd_dir / "xinetd.conf").write_text(xinetd_conf(xinetd_dir))
    units = {
        "ntpsec.service": "[Service]\nExecStart=" + " ".join(ntpd.argv()) + "\n",
        "xinetd.service": (f"[Service]\nExecStart={XINETD} -f {xinetd_dir}/xinetd.conf "
                           f"-pidfile {xinetd_dir}/xinetd.pid -dontfork -stayalive\n"
                           "ExecReload=/bin/kill -HUP $MAINPID\n"),
    }
    with veth_namespace(ipv6=False) as net:
        net.ns.ip("addr", "add", f"{LEASE}/{PREFIX}", "dev", "eth0")
        net.ns.ip("addr", "add", f"{ALIAS}/{PREFIX}", "dev", "eth0", "label", "eth0:0")
        with UserManager(net.ns.name, units) as systemd:
            yield Lab(net, systemd, ntpd, xinetd_dir)


def test_ntpd_without_a_key_is_restarted_through_systemd_once(lab: Lab,
                                                              tmp_path: Path) -> None:
    """ntpd without a control key that stays deaf is restarted, once, and never again
    within the rate limit however often the alias comes back.

    Why its deafness is faithful: the running ntpd read ``interface ignore 10.77.0.50``
    when it started; ntp.conf has since been changed to ``interface listen 10.77.0.50``
    and nethook reads the file. So ntpd really does not bind the restored alias, as an
    ntpd that missed the change or cannot rescan does not, and without a control key
    nothing but a restart changes a running ntpd's rules. The restart is real: systemd
    stops and starts the unit, and the new ntpd reads the file and binds the alias.
    """
    systemd, ntpd = lab.systemd, lab.ntpd
    dirs = lab.nethook(tmp_path / "nethook", "services:\n  ntpd: {wait: 2}\n")
    deaf = [f"interface listen {LEASE}", f"interface ignore {ALIAS}"]
    fixed = [f"interface listen {LEASE}", f"interface listen {ALIAS}"]
    ntpd.write_conf(deaf)
    systemd.run_job("StartUnit", "ntpsec.service", "active")
    try:
        assert wait_for(lambda: listens(lab.net.ns, "udp", LEASE, 123), 10), ntpd.log_text()
        first = systemd.main_pid("ntpsec.service")
        assert not listens(lab.net.ns, "udp", ALIAS, 123)
        ntpd.write_conf(fixed)  # the administrator's change, not applied yet

        lab.lose_alias()
        lab.hook(dirs)
        [check] = wait_for_checks(lab.net.ns, dirs, 1)
        [outcome] = check["services"]
        assert outcome["result"] == "restarted", check
        assert outcome["remedies"] == ["restart: TryRestartUnit ntpsec.service: job done"]
        second = systemd.main_pid("ntpsec.service")
        assert second not in (0, first)
        assert ntpd_pids(lab.net.ns) == [second]
        assert listens(lab.net.ns, "udp", ALIAS, 123)

        # Deaf again (the administrator restarts it with the old file), then a burst.
        ntpd.write_conf(deaf)
        systemd.run_job("RestartUnit", "ntpsec.service", "active")
        third = systemd.main_pid("ntpsec.service")
        assert wait_for(lambda: listens(lab.net.ns, "udp", LEASE, 123), 10)
        ntpd.write_conf(fixed)
        for _ in range(3):
            lab.lose_alias()
            lab.hook(dirs)
        checks = wait_for_checks(lab.net.ns, dirs, 2)
        assert len(checks) == 2, checks  # the burst made one check
        assert checks[1]["services"][0]["result"] == "rate-limited"
        assert systemd.main_pid("ntpsec.service") == third  # not restarted again
        assert not listens(lab.net.ns, "udp", ALIAS, 123)
    finally:
        systemd.run_job("StopUnit", "ntpsec.service", "inactive")


def test_try_restart_leaves_a_stopped_unit_stopped(lab: Lab,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    systemd = lab.systemd
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", systemd.address)
    units = SystemdUnits(timeout=15)
    assert systemd.active_state("ntpsec.service") == "inactive"
    # Our own process is in no unit of this manager: GetUnitByPID fails, names decide.
    state = units.find(["ntp.service", "ntpsec.service"], os.getpid())
    assert state == UnitState("ntpsec.service", "inactive") and state.stopped
    assert units.try_restart("ntpsec.service") == JobResult(
        True, "TryRestartUnit ntpsec.service: job done")
    assert units.reload_or_try_restart("ntpsec.service").ok
    assert systemd.active_state("ntpsec.service") == "inactive"
    assert ntpd_pids(lab.net.ns) == []
    assert units.find(["ntp.service"], None) is None  # not-found units are skipped


def echo(lab: Lab) -> str:
    done = lab.net.ns.run(["python3", "-c", (
        "import socket; s = socket.create_connection(('" + ALIAS + f"', {ECHO_PORT}), "
        "timeout=3); s.sendall(b'nethook'); print(s.recv(16).decode())")], check=False)
    return done.stdout.strip()


def test_xinetd_service_on_the_alias_is_reachable_again(lab: Lab, tmp_path: Path) -> None:
    systemd = lab.systemd
    dirs = lab.nethook(tmp_path / "nethook",
                       "services:\n  ntpd: false\n  xinetd: {wait: 1}\n")
    systemd.run_job("StartUnit", "xinetd.service", "active")
    try:
        assert wait_for(lambda: listens(lab.net.ns, "tcp", ALIAS, ECHO_PORT), 10)
        pid = systemd.main_pid("xinetd.service")
        assert echo(lab) == "nethook"

        # xinetd running all along: its bound socket outlives the alias; nothing to do.
        lab.lose_alias()
        assert listens(lab.net.ns, "tcp", ALIAS, ECHO_PORT)
        lab.hook(dirs)
        [check] = wait_for_checks(lab.net.ns, dirs, 1)
        assert check["services"][0]["result"] == "listening", check
        assert echo(lab) == "nethook"

        # xinetd restarted while the alias was gone (a boot, a package upgrade): it could
        # not bind the service, and stays deaf after the alias is back until reloaded.
        lab.lose_alias()
        systemd.run_job("RestartUnit", "xinetd.service", "active")
        pid = systemd.main_pid("xinetd.service")
        assert not listens(lab.net.ns, "tcp", ALIAS, ECHO_PORT)
        lab.hook(dirs)
        [_, check] = wait_for_checks(lab.net.ns, dirs, 2)
        [outcome] = check["services"]
        assert outcome["result"] == "reloaded", check
        assert outcome["remedies"] == ["reload: ReloadOrTryRestartUnit xinetd.service: job done"]
        assert systemd.main_pid("xinetd.service") == pid  # reloaded, not restarted
        assert echo(lab) == "nethook"
    finally:
        systemd.run_job("StopUnit", "xinetd.service", "inactive")



XINETD_SERVICES = "services:\n  ntpd: false\n  xinetd: {wait: 1}\n"


def test_xinetd_deaf_on_a_present_alias_is_found_and_reloaded(lab: Lab,
                                                              tmp_path: Path) -> None:
    """The alias is there, xinetd is deaf on it, and nethook restored nothing: status says
    MISSING, doctor says the same, and the services step of any run (here on its own, as
    the engine calls it) verifies and reloads xinetd."""
    systemd = lab.systemd
    dirs = lab.nethook(tmp_path / "nethook", XINETD_SERVICES)
    systemd.run_job("StartUnit", "xinetd.service", "active")
    try:
        assert wait_for(lambda: listens(lab.net.ns, "tcp", ALIAS, ECHO_PORT), 10)
        pid = lab.deaf_xinetd()
        missing = [{"state": "missing", "listener": f"tcp/{ECHO_PORT}@{ALIAS}", "note": None}]
        assert service_rows(lab.net.ns, dirs, "xinetd") == (1, missing)
        [finding] = doctor_findings(lab.net.ns, dirs, "xinetd")
        assert (finding["code"], finding["summary"]) == (
            "not-listening", f"xinetd does not listen on tcp/{ECHO_PORT}@{ALIAS} (service echo)")

        assert after_run(lab.net.ns, dirs, f"{ALIAS}/{PREFIX}", systemd.env)
        [check] = wait_for_checks(lab.net.ns, dirs, 1)
        [outcome] = check["services"]
        assert outcome["result"] == "reloaded", check
        assert systemd.main_pid("xinetd.service") == pid  # reloaded, not restarted
        assert echo(lab) == "nethook"
        assert service_rows(lab.net.ns, dirs, "xinetd")[0] == 0
        assert doctor_findings(lab.net.ns, dirs, "xinetd") == []
        # and once it listens, a run's services step finds nothing to do
        assert not after_run(lab.net.ns, dirs, f"{ALIAS}/{PREFIX}", systemd.env)
    finally:
        systemd.run_job("StopUnit", "xinetd.service", "inactive")


def test_replay_verifies_and_reloads_a_deaf_xinetd(lab: Lab, tmp_path: Path) -> None:
    systemd = lab.systemd
    dirs = lab.nethook(tmp_path / "nethook", XINETD_SERVICES)
    systemd.run_job("StartUnit", "xinetd.service", "active")
    try:
        assert wait_for(lambda: listens(lab.net.ns, "tcp", ALIAS, ECHO_PORT), 10)
        lab.deaf_xinetd()
        nethook(lab.net.ns, dirs, "replay", "eth0", extra_env=systemd.env)
        [check] = wait_for_checks(lab.net.ns, dirs, 1, timeout=15)
        assert check["services"][0]["result"] == "reloaded", check
        assert echo(lab) == "nethook"
    finally:
        systemd.run_job("StopUnit", "xinetd.service", "inactive")
