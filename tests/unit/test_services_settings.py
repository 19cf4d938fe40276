"""The ``services:`` section: defaults, values, and merging across files.

Invalid sections are table-driven with the rest of the configuration: the
tests/fixtures/config/invalid/services-*.yaml files and their exact .error messages.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from nethook.base.errors import ConfigError
from nethook.config.load import Config, load
from nethook.config.services import (
    DaemonSettings,
    ListenerSpec,
    ServicesConfig,
    UnitSettings,
    listener,
    unit_name,
)
from nethook.model.objects import Origin

IP = ipaddress.ip_address


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_watch_ntpd_only() -> None:
    services = Config().services
    assert services == ServicesConfig()
    assert services.rate_limit == 60
    assert services.ntpd == DaemonSettings(enabled=True, wait=5)
    assert not services.chrony.enabled and not services.xinetd.enabled
    assert services.units == ()


def test_a_full_section(tmp_path: Path) -> None:
    path = write(tmp_path / "nethook.yaml", """\
version: 1
services:
  rate-limit: 300
  ntpd:
    wait: 4
    config: /etc/ntpsec/ntp.conf
    unit: ntpsec
  chrony: true
  xinetd: {}
  units:
    - unit: nginx
      listen: [tcp/443@203.0.113.10, "tcp/443@[2001:db8::10]", udp/53@2001:db8::11]
      wait: 2
    - unit: named.service
      listen: [udp/53@203.0.113.10]
      action: reload
""")
    services = load([path]).services
    assert services.rate_limit == 300
    assert services.ntpd == DaemonSettings(True, 4, "/etc/ntpsec/ntp.conf", "ntpsec.service")
    assert services.chrony == DaemonSettings(True, 2)
    assert services.xinetd == DaemonSettings(True, 2)
    assert services.units == (
        UnitSettings("nginx.service", (ListenerSpec("tcp", 443, IP("203.0.113.10")),
                                       ListenerSpec("tcp", 443, IP("2001:db8::10")),
                                       ListenerSpec("udp", 53, IP("2001:db8::11"))), wait=2),
        UnitSettings("named.service", (ListenerSpec("udp", 53, IP("203.0.113.10")),),
                     action="reload"),
    )
    assert services.units[0].origin == Origin(str(path), 11)


def test_ntpd_can_be_turned_off(tmp_path: Path) -> None:
    path = write(tmp_path / "nethook.yaml", "version: 1\nservices:\n  ntpd: false\n")
    assert load([path]).services.ntpd == DaemonSettings(False, 5)


def test_later_files_replace_settings_and_add_units(tmp_path: Path) -> None:
    first = write(tmp_path / "conf.d" / "10-a.yaml", """\
version: 1
services:
  rate-limit: 10
  ntpd: {wait: 9}
  units: [{unit: nginx, listen: [tcp/80@203.0.113.10]}]
""")
    second = write(tmp_path / "conf.d" / "20-b.yaml", """\
version: 1
services:
  ntpd: {unit: ntp}
  units: [{unit: named, listen: [udp/53@203.0.113.10]}]
""")
    services = load([first, second]).services
    assert services.rate_limit == 10
    assert services.ntpd == DaemonSettings(True, 5, None, "ntp.service")  # replaced whole
    assert [u.unit for u in services.units] == ["nginx.service", "named.service"]


def test_a_unit_named_in_two_files(tmp_path: Path) -> None:
    first = write(tmp_path / "a.yaml", "version: 1\nservices:\n  units:\n"
                                       "    - {unit: nginx, listen: [tcp/80@203.0.113.10]}\n")
    second = write(tmp_path / "b.yaml", "version: 1\nservices:\n  units:\n"
                                        "    - {unit: nginx, listen: [tcp/81@203.0.113.10]}\n")
    with pytest.raises(ConfigError) as caught:
        load([first, second])
    assert str(caught.value) == (f"{second}:4: services.units[0]: duplicate unit "
                                 f"'nginx.service'; first declared at {first}:4")


@pytest.mark.parametrize("text, expected", [
    ("tcp/443@203.0.113.10", "tcp/443@203.0.113.10"),
    ("udp/123@2001:DB8::10", "udp/123@2001:db8::10"),
    ("udp/123@[2001:db8::10]", "udp/123@2001:db8::10"),
])
def test_listener(text: str, expected: str) -> None:
    assert listener(text).describe() == expected


@pytest.mark.parametrize("text, message", [
    ("tcp/0443@203.0.113.10", "'tcp/0443@203.0.113.10': '0443' is not a port number"),
    ("tcp/0@203.0.113.10", "'tcp/0@203.0.113.10': port 0 is out of range (1 to 65535)"),
    ("TCP/80@203.0.113.10", "'TCP/80@203.0.113.10': unknown protocol 'TCP'; known: tcp, udp"),
    ("tcp/80@fe80::1%eth0", "'tcp/80@fe80::1%eth0': 'fe80::1%eth0' is not an IP address"),
])
def test_bad_listeners(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        listener(text)
    assert str(caught.value) == message


@pytest.mark.parametrize("text, expected", [
    ("ntp", "ntp.service"), ("ntpsec.service", "ntpsec.service"),
    ("getty@tty1", "getty@tty1.service"), ("foo.bar", "foo.bar.service"),
])
def test_unit_names(text: str, expected: str) -> None:
    assert unit_name(text) == expected


@pytest.mark.parametrize("text", ["", "nginx service", "a/b", "x" * 256])
def test_bad_unit_names(text: str) -> None:
    with pytest.raises(ValueError, match="is not a unit name"):
        unit_name(text)
