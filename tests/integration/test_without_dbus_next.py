"""Without python3-dbus-next: what needs it says so in one line, and the rest works.

dbus-next is a recommendation of the packages, not a dependency. Each test runs nethook's
real code in a process of its own whose ``sys.modules["dbus_next"]`` is None, so that
every ``import dbus_next`` fails exactly as on a system without the package
(lab.nethook_env.without_modules); nothing of the features is mocked. Each process also
gets a D-Bus system bus address that leads nowhere, so that even a library that did load
could never reach the host's systemd.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from lab.nethook_env import SRC, NethookDirs, temporary_dirs, without_modules
from lab.netns import VethNamespace, veth_namespace
from lab.procs import poll_until
from lab.watcher import Watcher
from nethook.model.objects import Address
from nethook.services import trigger

pytestmark = pytest.mark.privileged

PACKAGE = "python3-dbus-next"
ALIAS = "10.77.0.50"
UNIT = "nethook-test-absent.service"
CONFIG = f"""\
version: 1
interfaces:
  eth0:
    addresses:
      - {{address: {ALIAS}/24, label: "eth0:0"}}
services:
  ntpd: false
  units:
    - unit: {UNIT}
      listen: [tcp/8443@{ALIAS}]
      wait: 0
"""


@pytest.fixture
def lab() -> Iterator[VethNamespace]:
    with veth_namespace(prefix="nhd-", ipv6=False) as veth:
        veth.ns.ip("addr", "add", "10.77.0.2/24", "dev", "eth0")
        yield veth


@pytest.fixture
def dirs() -> Iterator[NethookDirs]:
    with temporary_dirs("nhd-", CONFIG) as made:
        (made.root / "run" / "systemd" / "system").mkdir(parents=True)  # "booted with systemd"
        yield made


def nowhere(dirs: NethookDirs) -> str:
    return f"unix:path={dirs.base}/no-bus"


def mentions(text: str) -> list[str]:
    return [line for line in text.splitlines() if PACKAGE in line]


def test_the_block_is_what_a_missing_package_looks_like() -> None:
    """The control: the library is installed here, and only the block hides it."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(SRC)}
    subprocess.run([sys.executable, "-c", "import dbus_next"], env=env, check=True,
                   timeout=60)
    blocked = subprocess.run(without_modules(sys.executable, ["dbus_next"], "--version"),
                             env=env, capture_output=True, text=True, timeout=60, check=True)
    assert blocked.stdout.startswith("nethook ")
    probe = ("import sys; sys.modules['dbus_next'] = None\n"
             "for name in ('dbus_next', 'dbus_next.aio.message_bus'):\n"
             "    try:\n        __import__(name)\n"
             "    except ModuleNotFoundError as exc:\n        print(exc.name)")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.split() == ["dbus_next", "dbus_next.aio"]  # is_missing takes both


def test_the_watcher_follows_netlink_and_says_once_what_it_cannot_follow(
        lab: VethNamespace, dirs: NethookDirs) -> None:
    dirs.command(lab.name, "apply").check_returncode()
    # Without --no-dbus: the watcher tries to follow NetworkManager and networkd.
    with Watcher(dirs, lab.name, dbus_address=nowhere(dirs), without=["dbus_next"]) as watcher:
        status = watcher.status()
        assert status["dbus"] == [] and status["dbus_problem"] == f"{PACKAGE} is not installed"
        lab.ns.ip("addr", "del", f"{ALIAS}/24", "dev", "eth0")
        back = poll_until(lambda: any(a["local"] == ALIAS for link in lab.ns.ip_json(
            "-4", "addr", "show", "dev", "eth0") for a in link["addr_info"]), 10.0)
        assert back, watcher.log()
        assert watcher.stop() == 0
    log = watcher.log()
    assert "Traceback" not in log, log
    assert mentions(log) == [
        "nethook: NetworkManager and systemd-networkd events are not followed: "
        f"{PACKAGE} is not installed; watching netlink and the hooks only (install "
        f"{PACKAGE} for them, or run with --no-dbus)"]
    assert "netlink" in [e["event"]["source"] for e in dirs.journal() if e.get("plan")]


# The services check a hook starts detached logs to syslog; here it logs to stderr.
CHECK = """\
import logging, os, sys
sys.modules["dbus_next"] = None
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
from nethook.base.context import RunContext
from nethook.engine.services_check import check_pending
sys.exit(check_pending(RunContext.from_options(os.environ), "eth0"))
"""


def test_the_services_check_names_the_package_and_the_restart_it_could_not_run(
        lab: VethNamespace, dirs: NethookDirs) -> None:
    # What a hook queues after restoring the alias (services.trigger), nothing listening.
    trigger.append(dirs.run, "eth0", [Address("eth0", ipaddress.ip_interface(f"{ALIAS}/24"),
                                              "eth0:0")])
    done = subprocess.run(
        ["ip", "netns", "exec", lab.name, sys.executable, "-c", CHECK],
        env={"PATH": os.environ["PATH"], **dirs.env(),
             "DBUS_SYSTEM_BUS_ADDRESS": nowhere(dirs)},
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert mentions(done.stderr) == [
        f"WARNING eth0: {UNIT}: restart failed: {PACKAGE} is not installed, and systemd is "
        f"reached through it: install {PACKAGE}, or run: systemctl try-restart {UNIT}"]
    [entry] = [e for e in dirs.journal() if "services_check" in e]
    [outcome] = entry["services"]
    assert outcome["result"] == "failed"
    assert outcome["remedies"] == [f"restart: {PACKAGE} is not installed, and systemd is "
                                   f"reached through it: install {PACKAGE}, or run: "
                                   f"systemctl try-restart {UNIT}"]


def test_no_module_needs_it_to_load() -> None:
    """Nothing imports dbus-next before a feature that needs it runs."""
    code = ("import sys; sys.modules['dbus_next'] = None\n"
            "import nethook.engine.services_check, nethook.adapters.units, nethook.watch.daemon\n"
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "PYTHONPATH": str(SRC)},
                          timeout=60, check=True)
    assert done.stdout.strip() == "ok"
