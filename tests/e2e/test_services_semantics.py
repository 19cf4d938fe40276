"""The verdict table of tests/unit/test_services_parity.py, checked with the real daemons.

Each ntp.conf case runs ntpsec's ntpd (1.2.2, as tests/lab/services_lab.py runs it: no
cap_sys_time, ``disable ntp``) in a namespace whose eth0 has 10.77.0.10/24 and the alias
10.77.0.50/24 (label eth0:0); what ntpd did with each address is its own log's word for it
(``Listen normally on N NAME ADDR:123``, ``Listen and drop on ...``, or nothing: ignored).
Each xinetd case runs xinetd 2.3.15 on the case's files, laid over /etc/xinetd.conf and
/etc/xinetd.d in a private mount namespace (nothing of the host's /etc changes), and reads
which services it bound from the namespace's socket table. The table must be what they
did, and doctor and services must both give it (the unit test).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.netns import VethNamespace, require, veth_namespace
from lab.procs import terminate
from lab.services_lab import (
    ALIAS,
    LEASE,
    PREFIX,
    XINETD,
    Ntpd,
    require_tools,
    socket_table,
    wait_for,
)
from tests.unit.test_services_parity import NTP_CASES, XINETD_CASES, NtpCase, XinetdCase

pytestmark = [pytest.mark.privileged, pytest.mark.e2e]

BOUND = re.compile(r"IO: Listen (normally|and drop) on \d+ \S+ ([0-9a-f.:]+):123")
SCANNED = "Listening on routing socket"
CASE_PORTS = range(7000, 7100)


@pytest.fixture(scope="module")
def lab() -> Iterator[VethNamespace]:
    require_tools("ntpd", "setpriv", "xinetd", "unshare")
    with veth_namespace(ipv6=False) as lab:
        lab.ns.ip("addr", "add", f"{LEASE}/{PREFIX}", "dev", "eth0")
        lab.ns.ip("addr", "add", f"{ALIAS}/{PREFIX}", "dev", "eth0", "label", "eth0:0")
        yield lab


def what_ntpd_did(lab: VethNamespace, case: NtpCase, directory: Path) -> dict[str, str]:
    ntpd = Ntpd(directory)
    ntpd.write_conf(case.rules)
    for relative, text in case.included:
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_text(text)
    argv = ntpd.argv()
    # ntpd runs from / (as a daemon does): includefile must not be found by accident
    proc = lab.ns.spawn([*argv[:-4], *case.args, *argv[-4:]], cwd="/")
    try:
        assert wait_for(lambda: SCANNED in ntpd.log_text(), 10), ntpd.log_text()
    finally:
        terminate(proc)
    actions = {"normally": "listen", "and drop": "drop"}
    done = {address: actions[how] for how, address in BOUND.findall(ntpd.log_text())}
    return {address: done.get(address, "ignore") for address in case.verdicts}


@pytest.mark.parametrize("case", NTP_CASES, ids=[c.name for c in NTP_CASES])
def test_ntpsec_does_what_the_table_says(lab: VethNamespace, case: NtpCase,
                                         tmp_path: Path) -> None:
    assert what_ntpd_did(lab, case, tmp_path / "ntpd") == case.verdicts


def what_xinetd_bound(lab: VethNamespace, case: XinetdCase, root: Path,
                      expected: list[str]) -> list[str]:
    """The case's services xinetd bound (once they are the ``expected`` ones, or 3 s on)."""
    for relative, text in case.files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    (root / "etc" / "xinetd.d").mkdir(parents=True, exist_ok=True)
    pid_file = root / "xinetd.pid"
    script = (f"mount --bind {root}/etc/xinetd.conf /etc/xinetd.conf && "
              f"mount --bind {root}/etc/xinetd.d /etc/xinetd.d && cd {case.cwd} && "
              f"exec {XINETD} -f /etc/xinetd.conf -pidfile {pid_file} -dontfork -stayalive")
    proc = lab.ns.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c", script])
    try:
        assert wait_for(pid_file.exists, 10), "xinetd did not start"
        wait_for(lambda: bound(lab) == expected, 3)
        return bound(lab)
    finally:
        terminate(proc)


def bound(lab: VethNamespace) -> list[str]:
    return sorted(e.describe() for e in socket_table(lab.ns)
                  if e.proto == "tcp" and e.port in CASE_PORTS)


@pytest.mark.parametrize("case", XINETD_CASES, ids=[c.name for c in XINETD_CASES])
def test_xinetd_does_what_the_table_says(lab: VethNamespace, case: XinetdCase,
                                         tmp_path: Path) -> None:
    if not (Path("/etc/xinetd.conf").is_file() and Path("/etc/xinetd.d").is_dir()):
        require("xinetd's /etc/xinetd.conf and /etc/xinetd.d are needed to mount over")
    expected = sorted(listener for _id, listener in case.bound)
    assert what_xinetd_bound(lab, case, tmp_path, expected) == expected
