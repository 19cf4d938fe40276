"""chrony.conf: the addresses chronyd's server socket is bound to.

tests/fixtures/services/chrony/etc/chrony is Debian 12's chrony.conf with a drop-in that
binds the server socket to the aliases, and a disabled drop-in (not ``*.conf``).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from nethook.daemons import chrony
from nethook.services.setups import read_under

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "services" / "chrony"
IP = ipaddress.ip_address


def load(path: str = "/etc/chrony/chrony.conf") -> chrony.ChronySetup:
    return chrony.load(path, read_under(ROOT), chrony.glob_under(ROOT))


def test_bindaddress_from_a_confdir_drop_in() -> None:
    setup = load()
    assert setup.bind == (IP("203.0.113.10"), IP("2001:db8::10"))
    assert setup.port == 123
    assert setup.files == ("/etc/chrony/chrony.conf",
                           "/etc/chrony/conf.d/50-serve-on-alias.conf")
    restored = [IP("203.0.113.10"), IP("203.0.113.11")]
    assert chrony.expected_addresses(setup, restored) == [IP("203.0.113.10")]


def test_port_zero_means_no_server_socket() -> None:
    text = "bindaddress 203.0.113.10\nport 0\n"
    setup = chrony.load("/c", {"/c": text}.get, lambda pattern: [])
    assert chrony.expected_addresses(setup, [IP("203.0.113.10")]) == []


def test_the_last_bindaddress_of_a_family_wins_and_bad_ones_are_reported() -> None:
    text = ("bindaddress 203.0.113.10\n! bindaddress 203.0.113.12\n"
            "bindaddress 203.0.113.11\nbindaddress alias.example.com\n")
    setup = chrony.load("/c", {"/c": text}.get, lambda pattern: [])
    assert setup.bind == (IP("203.0.113.11"),)
    assert setup.problems == ("/c:4: bindaddress alias.example.com: not an IP address",)


def test_the_config_file_on_chronyds_command_line() -> None:
    assert chrony.config_from_command(["/usr/sbin/chronyd", "-F", "1", "-f",
                                       "/srv/chrony.conf"]) == "/srv/chrony.conf"
    assert chrony.config_from_command(["chronyd", "-f/etc/c.conf"]) == "/etc/c.conf"
    assert chrony.config_from_command(["chronyd", "-d"]) is None
