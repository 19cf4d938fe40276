"""The shipped nethook-watch.service under a real systemd manager, hardening included.

PID 1 here is not systemd; the services tests' ``systemd --user`` stand-in (a real
manager on a private bus, tests/lab/systemd_user.py) runs the unit in a test namespace.
What points at this test's files is rewritten: ExecStart (this checkout, through the
wrapper a hook would run), the directories nethook uses (under /run, writable through
ReadWritePaths under ProtectSystem=strict), and the bus. The sandboxing stays as
shipped except for five lines this stand-in cannot apply: a user manager started
inside a private mount namespace fails every one of PrivateTmp, ProtectHome,
ProtectKernelTunables and ProtectKernelLogs with status 226 (EXIT_NAMESPACE), and
ProtectControlGroups with 203 (EXIT_EXEC), each alone, on this machine. The test reads
back from /proc what the manager applied: the capability bounding set, no_new_privs,
the seccomp filter, a read-only root.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Dict

import pytest

from lab import systemd_user
from lab.nethook_env import REPO, NethookDirs
from lab.netns import VethNamespace, require, veth_namespace
from lab.procs import poll_until
from lab.systemd_user import UserManager

pytestmark = [pytest.mark.e2e]

UNIT = "nethook-watch.service"
SHIPPED = REPO / "hooks" / "systemd" / UNIT
CONFIG = """\
version: 1
interfaces:
  eth0:
    addresses:
      - {address: 10.77.0.50/24, label: "eth0:0"}
      - 192.0.2.7/32
"""
# CAP_NET_ADMIN, CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE (tests/e2e/test_services_caps.py)
CAP_BOUNDING = (1 << 12) | (1 << 2) | (1 << 19)
NOT_HERE = ("PrivateTmp=", "ProtectHome=", "ProtectKernelTunables=", "ProtectKernelLogs=",
            "ProtectControlGroups=")


def unit_for(dirs: NethookDirs, wrapper: Path, bus: str) -> str:
    text = SHIPPED.read_text()
    replaced = {
        "ExecStart=/usr/bin/nethook watch": f"ExecStart={wrapper} watch -v",
        "ReadWritePaths=/var/lib/nethook /run/nethook":
            f"ReadWritePaths={dirs.state} {dirs.run} {dirs.base}\n"
            f"Environment=DBUS_SYSTEM_BUS_ADDRESS={bus}",
    }
    for old, new in replaced.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    kept = [line for line in text.splitlines() if not line.startswith(NOT_HERE)]
    assert len(kept) == len(text.splitlines()) - len(NOT_HERE)
    return "\n".join(kept) + "\n"


@pytest.fixture
def lab() -> Iterator[VethNamespace]:
    with veth_namespace(prefix="nhw-", ipv6=False) as veth:
        veth.ns.ip("addr", "add", "10.77.0.2/24", "dev", "eth0")
        yield veth


@pytest.fixture
def dirs() -> Iterator[NethookDirs]:
    base = Path("/run") / f"nhw-{secrets.token_hex(4)}"
    base.mkdir(mode=0o700)
    try:
        yield NethookDirs.create(base, CONFIG)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def proc_status(pid: int) -> Dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def addresses(lab: VethNamespace) -> set[str]:
    return {a["local"] for link in lab.ns.ip_json("-4", "addr", "show", "dev", "eth0")
            for a in link["addr_info"]}


def test_the_shipped_unit_starts_reloads_and_stops_under_systemd(
        lab: VethNamespace, dirs: NethookDirs) -> None:
    problem = systemd_user.missing_requirements()
    if problem:
        require(problem)
    wrapper = dirs.wrapper(log_stderr=True) / "nethook"
    manager = UserManager(lab.name, {})
    manager.units[UNIT] = unit_for(dirs, wrapper, manager.address)
    with manager:
        manager.run_job("StartUnit", UNIT, "active", timeout=30)  # after READY=1
        pid = manager.main_pid(UNIT)
        status = proc_status(pid)
        assert int(status["CapBnd"], 16) == CAP_BOUNDING
        assert status["NoNewPrivs"].strip() == "1" and status["Seccomp"].strip() == "2"
        mounts = Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
        root = next(line for line in mounts if line.split()[4] == "/")
        assert re.search(r"\bro\b", root.split()[5]), root
        assert poll_until(lambda: "watching: keeps eth0 (2)" in dirs.stderr_log.read_text(),
                          10.0), dirs.stderr_log.read_text()

        lab.ns.run([str(wrapper), "apply"])
        lab.ns.ip("addr", "flush", "dev", "eth0")
        assert poll_until(lambda: {"10.77.0.50", "192.0.2.7"} <= addresses(lab), 10.0), \
            dirs.stderr_log.read_text()

        dirs.write_config(CONFIG + "      - 192.0.2.8/32\n")
        manager.manager_call("ReloadUnit", "ss", UNIT, "replace")
        assert poll_until(lambda: "configuration reloaded" in dirs.stderr_log.read_text(),
                          10.0)
        assert manager.active_state(UNIT) == "active" and manager.main_pid(UNIT) == pid
        lab.ns.ip("addr", "flush", "dev", "eth0")
        assert poll_until(lambda: "192.0.2.8" in addresses(lab), 10.0)

        manager.run_job("StopUnit", UNIT, "inactive", timeout=20)
        # a clean stop on SIGTERM ("success"), not systemd's stop timeout ("timeout")
        result = manager.unit_property(UNIT, "Service", "Result")
        assert result.split()[1].strip('"') == "success"
    log = dirs.stderr_log.read_text()
    assert "stopping" in log and "Traceback" not in log
    assert not (dirs.run / "watch.sock").exists()
