"""Event translation on environments captured from the real dhclient-script and ifup.

The fixtures (tests/fixtures/env, format in its README) were recorded in the lab from
isc-dhcp-client and ifupdown as Debian 12 ships them.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Dict, Optional

import pytest

from nethook.events import Kind, dhclient, ifupdown

ENV_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "env"


def captured(name: str) -> Dict[str, str]:
    data = json.loads((ENV_DIR / f"{name}.env").read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("name, enter, exit_, new, old", [
    ("dhclient-debian-PREINIT", None, None, None, None),
    ("dhclient-debian-BOUND", Kind.PREPARE, Kind.CONFIGURE, "10.77.0.10/24", None),
    ("dhclient-debian-RENEW", Kind.PREPARE, Kind.CONFIGURE, "10.77.0.10/24", "10.77.0.10/24"),
    ("dhclient-debian-EXPIRE", Kind.PREPARE, Kind.TEARDOWN, None, "10.77.0.10/24"),
    ("dhclient-debian-PREINIT-after-expire", None, None, None, None),
    ("dhclient-debian-BOUND-after-expire", Kind.PREPARE, Kind.CONFIGURE, "10.77.0.11/24", None),
    ("dhclient-debian-REBOOT", Kind.PREPARE, Kind.CONFIGURE, "10.77.0.11/24", None),
    ("dhclient-debian-TIMEOUT", Kind.PREPARE, Kind.CONFIGURE, "10.77.0.11/24", None),
    ("dhclient-debian-STOP", Kind.PREPARE, Kind.TEARDOWN, None, None),
    ("dhclient-debian-RELEASE", Kind.PREPARE, Kind.TEARDOWN, None, None),
    ("dhclient-debian-FAIL", Kind.PREPARE, Kind.TEARDOWN, None, None),
])
def test_captured_dhclient(name: str, enter: Optional[Kind], exit_: Optional[Kind],
                           new: Optional[str], old: Optional[str]) -> None:
    env = captured(name)
    entered = dhclient.from_env(env, "enter")
    exited = dhclient.from_env(env, "exit")
    assert (entered.kind if entered else None) is enter
    assert (exited.kind if exited else None) is exit_
    event = exited or entered
    if event is not None:
        assert event.ifname == "eth0"
        assert event.new_address == (ipaddress.ip_interface(new) if new else None)
        assert event.old_address == (ipaddress.ip_interface(old) if old else None)


def test_captured_hostile_lease_yields_only_validated_facts() -> None:
    env = captured("dhclient-debian-BOUND-hostile")
    assert any("touch" in value for value in env.values())  # the fixture is really hostile
    event = dhclient.from_env(env, "exit")
    assert event is not None
    assert event.to_dict() == {"source": "dhclient", "kind": "configure", "reason": "BOUND",
                               "ifname": "eth0", "new_address": env["new_ip_address"] + "/24",
                               "routers": [env["new_routers"]]}


@pytest.mark.parametrize("name, ifname", [
    ("ifupdown-dhcp", "eth0"), ("ifupdown-static", "eth0"), ("ifupdown-alias", "eth0"),
])
def test_captured_ifupdown(name: str, ifname: str) -> None:
    event = ifupdown.from_env(captured(name))
    assert event is not None and event.ifname == ifname and event.kind is Kind.CONFIGURE
