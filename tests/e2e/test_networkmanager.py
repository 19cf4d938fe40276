"""Real NetworkManager 1.42 (Debian 12), real nm-dispatcher running nethook's shipped
dispatcher script, and the watcher following NetworkManager on the lab's private bus.

What NetworkManager does to state it did not configure (measured with it):
``nmcli device reapply`` and a link bounce remove extra addresses, a bounce also the
routes in other tables; a DHCP renewal that changes the address runs no dispatcher
script at all before 1.42.6, but changes the DHCP4Config object's Options on D-Bus.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Dict, List, Set

import pytest

from lab import nm_lab
from lab.nethook_env import NETWORKMANAGER, NethookDirs
from lab.netns import require
from lab.nm_lab import IFACE, NmLab
from lab.procs import poll_until
from lab.watcher import Watcher

pytestmark = [pytest.mark.e2e, pytest.mark.stacks]

SAME_SUBNET = "10.78.0.50"  # a secondary of the lease's subnet: it dies with the lease
OTHER_SUBNET = "192.0.2.7"
CONFIG = f"""\
version: 1
interfaces:
  {IFACE}:
    addresses:
      - {{address: {SAME_SUBNET}/24, label: "{IFACE}:0"}}
      - {OTHER_SUBNET}/32
    routes:
      - {{to: 10.99.0.0/24, via: 10.78.0.1, table: 100}}
    routing-policy:
      - {{from: {SAME_SUBNET}, table: 100, priority: 1000}}
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[Dict[str, Any]]:
    problem = nm_lab.missing_requirements()
    if problem:
        require(problem)
    base = Path(tempfile.mkdtemp(prefix="nml-t-", dir="/tmp"))
    try:
        dirs = NethookDirs.create(base, CONFIG)
        with NmLab(bin_dir=dirs.wrapper(log_stderr=True), scripts=[NETWORKMANAGER]) as lab:
            yield {"lab": lab, "dirs": dirs}
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def lab(stack: Dict[str, Any]) -> NmLab:
    lab: NmLab = stack["lab"]
    assert poll_until(lambda: lab.connected() and lab.lease() is not None, 30.0), lab.tails()
    return lab


@pytest.fixture
def dirs(stack: Dict[str, Any]) -> NethookDirs:
    return stack["dirs"]  # type: ignore[no-any-return]


@pytest.fixture
def watcher(lab: NmLab, dirs: NethookDirs) -> Iterator[Watcher]:
    with Watcher(dirs, lab.client_ns, dbus_address=lab.bus_address) as running:
        assert poll_until(lambda: running.status()["dbus"] != [], 10.0), running.log()
        yield running
        assert running.stop() == 0


def addresses(lab: NmLab) -> Set[str]:
    return {a["local"] for a in lab.addresses()}


def everything_back(lab: NmLab) -> bool:
    table = lab.ip("route", "show", "table", "all").stdout
    rules = lab.ip("rule", "show").stdout
    return {SAME_SUBNET, OTHER_SUBNET} <= addresses(lab) \
        and "10.99.0.0/24 via 10.78.0.1 dev nml0 table 100" in table and "1000:" in rules


def runs_since(dirs: NethookDirs, mark: int) -> List[Dict[str, Any]]:
    return [e for e in dirs.journal()[mark:] if "plan" in e]


def calls(dirs: NethookDirs) -> List[str]:
    try:
        return dirs.calls.read_text().splitlines()
    except FileNotFoundError:
        return []


def test_the_dispatcher_script_alone_restores_after_reapply(lab: NmLab,
                                                            dirs: NethookDirs) -> None:
    """No watcher: the shipped 50-nethook, run by the real nm-dispatcher, does it."""
    # Activation (dhcp4-change, then up) restored the declared state, through the script.
    assert poll_until(lambda: any(e["event"]["reason"] == "up" for e in dirs.journal()),
                      10.0), (lab.tails(), dirs.journal())
    assert everything_back(lab)
    mark = len(dirs.journal())
    lab.nmcli("device", "reapply", IFACE)
    assert poll_until(lambda: everything_back(lab) and runs_since(dirs, mark), 10.0), \
        lab.tails()
    (run,) = runs_since(dirs, mark)
    assert run["results"]
    assert run["event"] == {"source": "networkmanager", "kind": "configure",
                            "reason": "reapply", "ifname": IFACE,
                            "new_address": f"{lab.lease()}/24", "routers": ["10.78.0.1"]}
    assert any(c.endswith(f"hook networkmanager -- {IFACE} reapply") for c in calls(dirs))


def test_reapply_with_the_watcher(lab: NmLab, dirs: NethookDirs, watcher: Watcher) -> None:
    assert everything_back(lab)
    mark, dispatched = len(dirs.journal()), len(lab.dispatched())
    lab.nmcli("device", "reapply", IFACE)
    assert poll_until(lambda: everything_back(lab), 10.0), (lab.tails(), watcher.log())
    assert poll_until(lambda: len(lab.dispatched()) > dispatched, 5.0)
    assert [d[2] for d in lab.dispatched()[dispatched:]] == ["reapply"]
    runs = runs_since(dirs, mark)
    sources = {(e["event"]["source"], e["event"]["reason"]) for e in runs}
    # Whichever reached the watcher first restored: netlink's view of the loss, or the
    # dispatcher's event handed over by the hook. The other is then coalesced away (a
    # run that started after it arrived covers it), so it may leave no journal line.
    assert sources & {("networkmanager", "reapply"), ("netlink", "removal")}, sources
    assert any(e["results"] for e in runs)


def test_a_link_bounce_with_the_watcher(lab: NmLab, dirs: NethookDirs,
                                        watcher: Watcher) -> None:
    assert everything_back(lab)
    mark = len(dirs.journal())
    lab.ip("link", "set", IFACE, "down")
    assert poll_until(lambda: "networkmanager" in watcher.status()["holds"].get(IFACE, [])
                      or "link down" in watcher.status()["holds"].get(IFACE, []), 5.0)
    lab.ip("link", "set", IFACE, "up")
    assert poll_until(lambda: lab.connected() and everything_back(lab), 20.0), \
        (lab.tails(), watcher.log())
    runs = runs_since(dirs, mark)
    assert any(e["results"] for e in runs)
    assert {e["event"]["source"] for e in runs} & {"networkmanager", "nm-dbus", "netlink"}


def test_a_renewal_to_a_new_address_is_caught_through_dbus(
        lab: NmLab, dirs: NethookDirs, watcher: Watcher) -> None:
    assert everything_back(lab)
    old = lab.lease()
    mark, dispatched = len(dirs.journal()), len(lab.dispatched())
    lab.start_dnsmasq("second")  # the old address is outside the new range: NAK
    assert poll_until(lambda: lab.lease() not in (None, old), lab.t2 + 20.0), lab.tails()
    new = lab.lease()
    assert poll_until(lambda: everything_back(lab), 10.0), (lab.tails(), watcher.log())
    # The alias may be back already by a run on its netlink loss (the watcher has no
    # quiet period): the lease change on D-Bus is a run of its own, right after.
    poll_until(lambda: any(e["event"]["source"] == "nm-dbus"
                           for e in runs_since(dirs, mark)), 5.0)
    lab.start_dnsmasq("first")  # (the next test starts from a normal lease again)
    runs = runs_since(dirs, mark)
    print(f"\nrenewal {old} -> {new}, dispatcher events: {lab.dispatched()[dispatched:]}; "
          "watcher runs: " + "; ".join(
              f"{e['event']['reason']} from {e['event']['source']}: {len(e['results'])} op(s)"
              for e in runs))
    lease_runs = [e for e in runs if e["event"]["source"] == "nm-dbus"
                  and e["event"]["reason"] == "dhcp4-lease"]
    assert lease_runs, runs
    assert lease_runs[0]["event"]["old_address"] == f"{old}/24"
    assert lease_runs[0]["event"]["new_address"] == f"{new}/24"
    if nm_lab.nm_version() < (1, 42, 6):  # before the fix: not one dispatcher event
        assert lab.dispatched()[dispatched:] == []
    # The alias of the old subnet went with the old lease and is back as a secondary.
    primary = [a["local"] for a in lab.addresses() if not a.get("secondary")
               and a["local"].startswith("10.78.")]
    assert primary == [new]
