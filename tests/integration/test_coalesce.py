"""A burst of hook events for one interface ends in few reconciles (nethook.engine.coalesce).

Each test has a namespace whose eth0 holds the lease and lacks the aliases the test's
configuration declares. Hooks run as separate ``python -m nethook hook dhclient-exit``
processes inside it, with the captured RENEW environment and the test's NETHOOK_* dirs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from lab.nethook_env import NethookDirs, lab_config, reconcile_runs
from lab.netns import VethNamespace, veth_namespace

pytestmark = pytest.mark.privileged

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "env"
LEASE = "10.77.0.10"
BURST = 20
CONFIG = lab_config(policy=True)


def _renew_env(dirs: NethookDirs, interface: str = "eth0") -> Dict[str, str]:
    env: Dict[str, str] = json.loads(
        (FIXTURES / "dhclient-debian-RENEW.env").read_text(encoding="utf-8"))
    env.update(dirs.env(), interface=interface)
    return env


def _hook(veth: VethNamespace, env: Mapping[str, str]) -> subprocess.Popen[str]:
    argv = veth.ns.exec_argv([sys.executable, "-m", "nethook", "hook", "dhclient-exit"])
    return subprocess.Popen(argv, env=dict(env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")


def _finish(proc: subprocess.Popen[str]) -> Tuple[int, str]:
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def _addresses(veth: VethNamespace, dev: str = "eth0") -> List[Tuple[str, str, bool]]:
    links = veth.ns.ip_json("-4", "addr", "show", "dev", dev)
    found = [(f"{a['local']}/{a['prefixlen']}", a.get("label", dev), bool(a.get("secondary")))
             for link in links for a in link["addr_info"]]
    return found[:1] + sorted(found[1:])


@pytest.fixture
def veth(tmp_path: Path) -> Iterator[VethNamespace]:
    with veth_namespace(ipv6=False) as made:
        made.ns.ip("addr", "add", f"{LEASE}/24", "dev", "eth0")
        made.peer.ip("addr", "add", "10.77.0.1/24", "dev", made.peer_ifname)
        yield made


def test_a_burst_of_renewals_coalesces(veth: VethNamespace, tmp_path: Path) -> None:
    dirs = NethookDirs.create(tmp_path / "nethook", CONFIG)
    env = _renew_env(dirs)

    procs = [_hook(veth, env) for _ in range(BURST)]
    finished = [_finish(p) for p in procs]

    assert [code for code, _ in finished] == [0] * BURST
    assert not [err for _, err in finished if "Traceback" in err]
    assert _addresses(veth) == [(f"{LEASE}/24", "eth0", False),
                                ("10.77.0.50/24", "eth0:0", True),
                                ("10.77.0.51/24", "eth0:1", True)]
    rules = [r for r in veth.ns.ip_json("-4", "rule", "show") if r.get("priority") == 1000]
    assert [(r["src"], r["table"]) for r in rules] == [("10.77.0.50", "100")]
    routes = veth.ns.ip_json("-4", "route", "show", "table", "100")
    assert [(r["dst"], r["gateway"]) for r in routes] == [("default", "10.77.0.1")]
    runs = reconcile_runs(dirs.journal())
    print(f"\n{BURST} concurrent RENEW hooks -> {len(runs)} reconcile run(s); "
          f"the first planned {len(runs[0]['plan'])} operation(s)")
    assert 1 <= len(runs) < BURST / 2
    assert [len(r["plan"]) for r in runs if r["plan"]] == [4]  # one run did all the work
    assert all(r["exit"] == 0 for r in runs)


def test_the_counter_of_one_interface_is_not_the_record_of_another(
        veth: VethNamespace, tmp_path: Path) -> None:
    """An interface named ``eth0.served`` (a valid name, like the VLAN name ``eth0.100``)
    must not share coalescing files with eth0: events/IFNAME counts IFNAME's events and
    events/IFNAME.served records what was served, so eth0's record is the other's counter.
    """
    other = "eth0.served"
    veth.ns.ip("link", "add", other, "type", "veth", "peer", "name", "p-served")
    veth.ns.ip("link", "set", other, "up")
    veth.ns.ip("addr", "add", "10.88.0.10/24", "dev", other)
    dirs = NethookDirs.create(tmp_path / "nethook", CONFIG + f"""\
  {other}:
    addresses:
      - 10.88.0.50/24
""")
    for _ in range(3):  # three events for eth0.served: its record says 3 were served
        assert _finish(_hook(veth, _renew_env(dirs, other)))[0] == 0
    assert _finish(_hook(veth, _renew_env(dirs, "eth0")))[0] == 0  # eth0's first event
    veth.ns.ip("addr", "del", "10.88.0.50/24", "dev", other)

    code, err = _finish(_hook(veth, _renew_env(dirs, other)))  # a new event: must restore

    assert code == 0 and "Traceback" not in err
    assert ("10.88.0.50/24", other, True) in _addresses(veth, other), (
        "the event was taken as already served")
