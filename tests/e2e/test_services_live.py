"""Live state, with real xinetd and chronyd: status and doctor give the same verdict.

The namespace's eth0 has the lease 10.77.0.10/24 and the alias 10.77.0.50/24 (eth0:0)
that nethook's configuration declares. ``nethook status`` and ``nethook doctor`` run in
it (doctor with ``--root /``, so that it looks at the namespace's daemons; it only reads
the host's files), and both must say the same about the daemons there:

* an old xinetd that hangs on, still holding its socket on the alias, beside a new xinetd
  that started while the alias was gone and so could not bind it: the socket table has
  tcp/7@10.77.0.50, but the daemon (the process its pidfile names) is deaf;
* chronyd 4.3 started while the alias was gone: it binds ``bindaddress`` with
  IP_FREEBIND, so it has its socket on the alias anyway, and serves when it is back.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.nethook_env import NethookDirs
from lab.netns import VethNamespace, veth_namespace
from lab.procs import terminate
from lab.services_lab import (
    ALIAS,
    CHRONYD,
    LEASE,
    PREFIX,
    XINETD,
    Chronyd,
    alias_config,
    doctor_findings,
    listens,
    require,
    require_tools,
    service_rows,
    wait_for,
)

pytestmark = [pytest.mark.privileged, pytest.mark.e2e]

ECHO = 7
XINETD_CONF = """defaults
{{
}}
service echo
{{
	type		= INTERNAL
	id		= echo-stream
	socket_type	= stream
	protocol	= tcp
	port		= {port}
	wait		= no
	user		= root
	bind		= {alias}
}}
"""


@pytest.fixture
def lab() -> Iterator[VethNamespace]:
    require_tools("xinetd", "setpriv")
    with veth_namespace(ipv6=False) as lab:
        lab.ns.ip("addr", "add", f"{LEASE}/{PREFIX}", "dev", "eth0")
        lab.ns.ip("addr", "add", f"{ALIAS}/{PREFIX}", "dev", "eth0", "label", "eth0:0")
        yield lab


def lose_alias(lab: VethNamespace) -> None:
    lab.ns.ip("addr", "del", f"{ALIAS}/{PREFIX}", "dev", "eth0")


def put_alias_back(lab: VethNamespace) -> None:
    lab.ns.ip("addr", "add", f"{ALIAS}/{PREFIX}", "dev", "eth0", "label", "eth0:0")


def start_xinetd(lab: VethNamespace, conf: Path, pid_file: Path) -> subprocess.Popen[bytes]:
    pid_file.unlink(missing_ok=True)
    proc = lab.ns.spawn([XINETD, "-f", str(conf), "-pidfile", str(pid_file), "-dontfork",
                         "-stayalive"])
    assert wait_for(pid_file.exists, 10), "xinetd did not start"
    return proc


def test_a_hung_old_xinetd_does_not_make_the_new_one_listen(lab: VethNamespace,
                                                             tmp_path: Path) -> None:
    dirs = NethookDirs.create(tmp_path / "nethook", config=alias_config(
        services="services:\n  ntpd: false\n  xinetd: {wait: 1}\n"))
    conf, pid_file = tmp_path / "xinetd.conf", tmp_path / "xinetd.pid"
    conf.write_text(XINETD_CONF.format(port=ECHO, alias=ALIAS))
    old = start_xinetd(lab, conf, pid_file)
    new = None
    try:
        assert wait_for(lambda: listens(lab.ns, "tcp", ALIAS, ECHO), 10)
        assert service_rows(lab.ns, dirs, "xinetd") == (
            0, [{"state": "present", "listener": f"tcp/{ECHO}@{ALIAS}", "note": None}])
        assert doctor_findings(lab.ns, dirs, "xinetd") == []

        old.send_signal(signal.SIGSTOP)  # hung: it keeps its socket and serves nobody
        lose_alias(lab)
        new = start_xinetd(lab, conf, pid_file)  # could not bind: the alias was gone
        put_alias_back(lab)
        assert listens(lab.ns, "tcp", ALIAS, ECHO)  # the old one's socket, still there

        assert service_rows(lab.ns, dirs, "xinetd") == (
            1, [{"state": "missing", "listener": f"tcp/{ECHO}@{ALIAS}", "note": None}])
        [finding] = doctor_findings(lab.ns, dirs, "xinetd")
        assert finding["code"] == "not-listening"
        assert finding["summary"] == (f"xinetd does not listen on tcp/{ECHO}@{ALIAS} "
                                      "(service echo)")
        assert [e["what"] for e in finding["evidence"]][-1] == (
            f"xinetd (pid {new.pid}) has no socket on tcp/{ECHO}@{ALIAS}")
    finally:
        old.send_signal(signal.SIGCONT)
        terminate(old)
        if new is not None:
            terminate(new)


def test_chronyd_started_without_the_alias_still_serves_it(lab: VethNamespace,
                                                          tmp_path: Path) -> None:
    require(None if CHRONYD.exists() else f"{CHRONYD} is missing: run `make lab-debs`")
    dirs = NethookDirs.create(tmp_path / "nethook", config=alias_config(
        services="services:\n  ntpd: false\n  chrony: {wait: 1}\n"))
    chronyd = Chronyd(tmp_path / "chrony", ALIAS)
    lose_alias(lab)
    proc = lab.ns.spawn(chronyd.argv())
    try:
        assert wait_for(lambda: chronyd.pid() is not None, 10), "chronyd did not start"
        # IP_FREEBIND: bound to the alias although no interface has it
        assert wait_for(lambda: listens(lab.ns, "udp", ALIAS, 123), 10)
        put_alias_back(lab)
        assert service_rows(lab.ns, dirs, "chrony") == (
            0, [{"state": "present", "listener": f"udp/123@{ALIAS}", "note": None}])
    finally:
        terminate(proc)
