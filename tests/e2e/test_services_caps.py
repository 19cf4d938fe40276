"""The watcher's capabilities: exactly what the services check needs to see other users'
sockets, proved by running the check under the bounding set the unit gives it.

``nethook-watch.service`` runs as root with ``CapabilityBoundingSet=``: the services check it
starts inherits that set. Two real daemons run as other users in a namespace, each with a
TCP or UDP socket on the alias, the two ways a daemon ends up another user's:

* xinetd started as ``nobody`` (a unit's ``User=``): dumpable, so its /proc/PID/fd is
  nobody's, mode 0500: listing it takes CAP_DAC_READ_SEARCH, reading its links (and its
  ns/net) CAP_SYS_PTRACE;
* chronyd dropping to another user itself (``-u``, as Debian runs it): no longer dumpable,
  so /proc/PID is root's, but its links still take CAP_SYS_PTRACE.

``nethook services-check`` runs under ``setpriv --bounding-set`` with the unit's set, and
with each capability taken away in turn. With the unit's set both daemons are heard
listening; without one of the capabilities the check says "could not read" for the daemon
it cannot see, and never "listening" or "not listening".
"""

from __future__ import annotations

import configparser
import contextlib
import ipaddress
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.nethook_env import REPO, NethookDirs
from lab.netns import VethNamespace, veth_namespace
from lab.procs import terminate
from lab.services_lab import (
    ALIAS,
    CHILD_PATH,
    CHRONYD,
    LEASE,
    PREFIX,
    XINETD,
    Chronyd,
    alias_config,
    checks,
    listens,
    require,
    require_tools,
    wait_for,
)
from nethook.model.objects import Address
from nethook.services import trigger

pytestmark = [pytest.mark.privileged, pytest.mark.e2e]

UNIT = REPO / "hooks" / "systemd" / "nethook-watch.service"
PORT = 7777
NEEDED = {"CAP_NET_ADMIN", "CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"}
XINETD_CONF = f"""defaults
{{
}}
service echo
{{
	type		= INTERNAL UNLISTED
	id		= echo-alias
	socket_type	= stream
	protocol	= tcp
	port		= {PORT}
	wait		= no
	bind		= {ALIAS}
}}
"""


def unit_capabilities() -> set[str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(UNIT.read_text())
    return set(parser["Service"]["CapabilityBoundingSet"].split())


@dataclass
class Lab:
    net: VethNamespace
    dirs_base: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_tools("xinetd", "setpriv")
    require(None if CHRONYD.exists() else f"{CHRONYD} is missing: run `make lab-debs`")
    shared = Path(tmp_path_factory.mktemp("caps"))
    # The daemons' files must be readable by their users: not under pytest's 0700 tree.
    base = Path(tempfile.mkdtemp(prefix="nhcaps-", dir="/tmp"))
    base.chmod(0o755)
    (base / "xinetd.conf").write_text(XINETD_CONF)
    chronyd = Chronyd(base / "chrony", ALIAS)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, base)
        net = cleanup.enter_context(veth_namespace(ipv6=False))
        net.ns.ip("addr", "add", f"{LEASE}/{PREFIX}", "dev", "eth0")
        net.ns.ip("addr", "add", f"{ALIAS}/{PREFIX}", "dev", "eth0", "label", "eth0:0")
        xinetd = net.ns.spawn(["setpriv", "--reuid=nobody", "--regid=nogroup",
                               "--clear-groups", XINETD, "-f", str(base / "xinetd.conf"),
                               "-dontfork", "-stayalive"])
        chrony = net.ns.spawn(chronyd.argv(user="nobody"))
        try:
            assert wait_for(lambda: listens(net.ns, "tcp", ALIAS, PORT), 10), "no xinetd"
            assert wait_for(lambda: listens(net.ns, "udp", ALIAS, 123), 10), "no chronyd"
            yield Lab(net, shared)
        finally:
            terminate(xinetd)
            terminate(chrony)


def check_under(lab: Lab, name: str, capabilities: set[str]) -> dict[str, str]:
    """``nethook services-check eth0`` for the alias, under a bounding set of only
    ``capabilities``: each daemon's result (with why, when it could not read)."""
    dirs = NethookDirs.create(lab.dirs_base / name, config=alias_config(services=(
        "services:\n  ntpd: false\n  chrony: {wait: 0}\n  xinetd: {wait: 0}\n")))
    alias = Address("eth0", ipaddress.ip_interface(f"{ALIAS}/{PREFIX}"), "eth0:0")
    trigger.append(dirs.run, "eth0", [alias])
    assert trigger.claim(dirs.run, "eth0")
    bounding = ",".join(["-all", *(f"+{c.lower().removeprefix('cap_')}" for c in capabilities)])
    env = {"PATH": CHILD_PATH, **dirs.env()}
    lab.net.ns.run(["env", "-i", *(f"{k}={v}" for k, v in env.items()),
                    "setpriv", f"--bounding-set={bounding}", "--inh-caps=-all",
                    sys.executable, "-m", "nethook", "services-check", "eth0"], check=False)
    [entry] = checks(dirs)
    return {o["service"]: o["result"] + (f": {o['unknown']}" if "unknown" in o else "")
            for o in entry["services"]}


def test_the_unit_has_exactly_the_capabilities_the_check_needs() -> None:
    assert unit_capabilities() == NEEDED


def test_with_the_units_capabilities_other_users_daemons_are_heard(lab: Lab) -> None:
    assert check_under(lab, "unit", unit_capabilities()) == {"chrony": "listening",
                                                            "xinetd": "listening"}


@pytest.mark.parametrize("missing, unreadable", [
    ("CAP_SYS_PTRACE", {"chrony", "xinetd"}),
    ("CAP_DAC_READ_SEARCH", {"xinetd"}),
], ids=["without CAP_SYS_PTRACE", "without CAP_DAC_READ_SEARCH"])
def test_without_one_of_them_the_check_could_not_read(lab: Lab, missing: str,
                                                      unreadable: set[str]) -> None:
    results = check_under(lab, missing.lower(), NEEDED - {missing})
    assert {s for s, r in results.items() if r.startswith("could not read: ")} == unreadable
    assert all(r == "listening" for s, r in results.items() if s not in unreadable)
    assert all("Permission denied" in results[s] for s in unreadable), results


def test_the_old_set_could_not_read_and_says_so(lab: Lab) -> None:
    """The unit's former CapabilityBoundingSet=CAP_NET_ADMIN: the check used to count
    both daemons as not running (their namespaces unreadable), and found nothing."""
    results = check_under(lab, "old", {"CAP_NET_ADMIN"})
    assert set(results) == {"chrony", "xinetd"}
    assert all(r.startswith("could not read: ") for r in results.values()), results
