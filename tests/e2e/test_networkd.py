"""Real systemd-networkd with networkd-dispatcher running nethook's shipped routable.d
script, and the watcher following networkd on the lab's private bus.

``networkctl reconfigure`` drops the link's configuration, foreign addresses and routes
included, and sets it up again: networkd-dispatcher then reports ``routable`` (the
shipped script runs), and networkd's Link object goes ``configuring`` -> ``configured``
on D-Bus (the watcher holds its netlink restores meanwhile, and restores after).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Dict, List, Set

import pytest

from lab import networkd_lab
from lab.nethook_env import NETWORKD, NethookDirs
from lab.netns import require
from lab.networkd_lab import IFACE, NetworkdLab
from lab.procs import poll_until
from lab.watcher import Watcher

pytestmark = [pytest.mark.e2e, pytest.mark.stacks]

CONFIG = f"""\
version: 1
interfaces:
  {IFACE}:
    addresses:
      - {{address: 10.78.1.50/24, label: "{IFACE}:0"}}
      - 192.0.2.9/32
    routes:
      - {{to: 10.99.0.0/24, via: 10.78.1.1, table: 100}}
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[Dict[str, Any]]:
    problem = networkd_lab.missing_requirements()
    if problem:
        require(problem)
    base = Path(tempfile.mkdtemp(prefix="nml-t-", dir="/tmp"))
    try:
        dirs = NethookDirs.create(base, CONFIG)
        with NetworkdLab(bin_dir=dirs.wrapper(log_stderr=True), scripts=[NETWORKD]) as lab:
            yield {"lab": lab, "dirs": dirs}
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def lab(stack: Dict[str, Any]) -> NetworkdLab:
    return stack["lab"]  # type: ignore[no-any-return]


@pytest.fixture
def dirs(stack: Dict[str, Any], lab: NetworkdLab) -> NethookDirs:
    dirs: NethookDirs = stack["dirs"]
    subprocess.run(["ip", "netns", "exec", lab.client_ns, sys.executable, "-m", "nethook",
                    "apply"], env={"PATH": os.environ["PATH"], **dirs.env()}, check=True,
                   capture_output=True, timeout=60)
    return dirs


def addresses(lab: NetworkdLab) -> Set[str]:
    return {a["local"] for a in lab.addresses()}


def everything_back(lab: NetworkdLab) -> bool:
    routes = lab.ip("route", "show", "table", "all").stdout
    return {"10.78.1.50", "192.0.2.9"} <= addresses(lab) \
        and f"10.99.0.0/24 via 10.78.1.1 dev {IFACE} table 100" in routes


def runs_since(dirs: NethookDirs, mark: int) -> List[Dict[str, Any]]:
    return [e for e in dirs.journal()[mark:] if "plan" in e]


def reconfigure(lab: NetworkdLab, dirs: NethookDirs) -> List[Dict[str, Any]]:
    """networkctl reconfigure; the runs once everything is back."""
    assert everything_back(lab)
    mark, dispatched = len(dirs.journal()), len(lab.dispatched())
    lab.networkctl("reconfigure", IFACE)
    assert poll_until(lambda: len(lab.dispatched()) > dispatched, 20.0), lab.tails()
    assert poll_until(lambda: lab.configured() and everything_back(lab), 20.0), lab.tails()
    assert lab.dispatched()[-1][1:] == [IFACE, "routable"]
    return runs_since(dirs, mark)


def test_the_routable_script_alone_restores_after_reconfigure(lab: NetworkdLab,
                                                              dirs: NethookDirs) -> None:
    runs = reconfigure(lab, dirs)
    applied = [e for e in runs if e["results"]]
    assert [e["event"]["source"] for e in applied] == ["networkd"]
    assert applied[0]["event"]["reason"] == "routable"


def test_the_watcher_and_the_routable_script_restore_after_reconfigure(
        lab: NetworkdLab, dirs: NethookDirs) -> None:
    with Watcher(dirs, lab.client_ns, dbus_address=lab.bus_address) as watcher:
        assert poll_until(lambda: watcher.status()["dbus"] == ["org.freedesktop.network1"],
                          10.0), watcher.log()
        runs = reconfigure(lab, dirs)
        assert watcher.stop() == 0
    sources = {(e["event"]["source"], e["event"]["reason"]) for e in runs}
    print(f"\nnetworkctl reconfigure with the watcher: runs {sorted(sources)}")
    assert ("networkd-dbus", "configured") in sources  # the watcher, through D-Bus
    assert ("networkd", "routable") in sources  # the shipped script, through the watcher
    assert any(e["results"] for e in runs)
    # While networkd was configuring, the watcher held its own netlink restores.
    assert not [e for e in runs if e["event"]["source"] == "netlink" and e["results"]]
