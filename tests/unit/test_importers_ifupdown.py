"""Debian ifupdown, table-driven: interfaces files in, objects and exact problems out."""

from __future__ import annotations

from pathlib import Path

import pytest

from nethook.base.errors import ConfigError
from nethook.importers import ifupdown
from tests.unit.importer_cases import case_lines, run_case

IF = "etc/network/interfaces"
MODERN = ("auto swp30\niface swp30\n    address 10.30.0.5/24\n    address 10.30.0.6/24\n"
          "    post-up ip rule add from 10.30.0.6 lookup 100 prio 100\n"
          "iface swp30\n    address 10.30.0.7/24\n    address 2001:db8:30::5/64\n"
          "    address 2001:db8:30::6/64\n"
          "auto eth0\niface eth0\n    use dhcp\n    address 203.0.113.5/24\n"
          "    address 203.0.113.6/24\n    gateway 203.0.113.1\n"
          "iface eth1 inet static\n    address 1.2.3.4/14\n    netmask 255.255.255.128\n"
          "    address 10.0.0.7\n")

CASES = {
    "alias stanzas; a stray gateway is no route": (
        {IF: "auto eth0\niface eth0 inet dhcp\n\nauto eth0:0\niface eth0:0 inet static\n"
             "    address 198.51.100.7\n    netmask 255.255.255.0\n    gateway 198.51.100.1\n"
             "iface eth0:1 inet static\n\taddress 198.51.100.8/24\n\taddress 198.51.100.9/25\n"},
        ["interfaces:6 address 198.51.100.7/24 dev eth0 label eth0:0",
         "interfaces:10 address 198.51.100.8/24 dev eth0 label eth0:1",
         "interfaces:11! address 198.51.100.9/25: ifup adds only the first 'address' of a "
         "stanza; write one stanza per address; not kept"]),
    "a static interface's first address is its own primary": (
        {IF: "iface eth1 inet static\n  address 10.1.0.5/24\n  address 10.1.0.6/24\n"
             "  gateway 10.1.0.1\n"
             "iface eth1 inet static\n  address 10.2.0.5/24\n"
             "iface eth1 inet6 static\n  address 2001:db8::5/64\n  address 2001:db8::6/64\n"},
        ["interfaces:6 address 10.2.0.5/24 dev eth1",
         "interfaces:3! address 10.1.0.6/24: ifup adds only the first 'address' of a stanza; "
         "write one stanza per address; not kept",
         "interfaces:9! address 2001:db8::6/64: ifup adds only the first 'address' of a "
         "stanza; write one stanza per address; not kept"]),
    "with DHCP of that family, every static address is kept": (
        {IF: "iface eth0 inet dhcp\niface eth0 inet static\n  address 10.0.0.50/24\n"
             "iface eth0 inet6 auto\niface eth0 inet6 static\n  address 2001:db8::50/64\n"
             "  netmask 64\n"},
        ["interfaces:3 address 10.0.0.50/24 dev eth0",
         "interfaces:6 address 2001:db8::50/64 dev eth0"]),
    "up lines: ip commands, variables, || true; down lines ignored": (
        {IF: "iface eth0 inet dhcp\n"
             "  pre-up ip rule add from 192.0.2.50 table 100 priority 499\n"
             "  up   ip addr add 192.0.2.50/24 dev $IFACE label $IFACE:5\n"
             "  post-up /sbin/ip route add default via 192.0.2.1 \\\n"
             "          table 100 || true\n"
             "  post-up ip -6 route add 2001:db8:9::/48 via 2001:db8::1 metric 7 2>/dev/null\n"
             "  post-up ethtool -K $IFACE tso off; ip link set $IFACE mtu 9000\n"
             "  down ip addr del 192.0.2.50/24 dev eth0 label eth0:5\n"
             "  pre-down ip route add 10.99.0.0/16 via 192.0.2.1\n"
             "iface eth0:0 inet manual\n"
             "  up ip addr add 192.0.2.51/24 dev ${IFACE} label $IFACE\n"
             "  up ip route add 10.7.0.0/16 via 192.0.2.1 table uplink\n"},
        ["interfaces:2 rule priority 499 from 192.0.2.50/32 table 100 on eth0",
         "interfaces:3 address 192.0.2.50/24 dev eth0 label eth0:5",
         "interfaces:4 route default via 192.0.2.1 dev eth0 table 100",
         "interfaces:6 route 2001:db8:9::/48 via 2001:db8::1 dev eth0 metric 7 table 254",
         "interfaces:11 address 192.0.2.51/24 dev eth0 label eth0:0",
         "interfaces:12 route 10.7.0.0/16 via 192.0.2.1 dev eth0 table 100"]),
    "up lines nethook cannot keep are reported": (
        {IF: "iface eth0 inet dhcp\n"
             "  up ip route add 10.9.0.0/16 via 192.0.2.1 mtu 1400\n"
             "  up ip addr add $ALIAS_ADDR dev eth0\n"
             "  up ifconfig eth0:7 192.0.2.7 netmask 255.255.255.0 up\n"
             "  up ip route add default via 192.0.2.1 || ip route add default via 192.0.2.2\n"
             "  up ip addr add 192.0.2.60/24 dev eth0; route add -net 10.6.0.0/16 gw 192.0.2.1\n"
             "  up ip rule add from 192.0.2.60 table nosuch\n"},
        ["interfaces:6 address 192.0.2.60/24 dev eth0",
         "interfaces:2! 'up ip route add 10.9.0.0/16 via 192.0.2.1 mtu 1400': 'mtu' is not "
         "supported by nethook; not kept",
         "interfaces:3! 'up ip addr add $ALIAS_ADDR dev eth0': it uses $ALIAS_ADDR, which "
         "nethook does not evaluate; not kept",
         "interfaces:4! 'up ifconfig eth0:7 192.0.2.7 netmask 255.255.255.0 up': ifconfig "
         "(net-tools) is not read by nethook; write it as an ip command; not kept",
         "interfaces:5! 'up ip route add default via 192.0.2.1 || ip route add default via "
         "192.0.2.2': '||' runs a command only when the one before fails; nethook cannot tell "
         "which one ran; not kept",
         "interfaces:6! 'up ip addr add 192.0.2.60/24 dev eth0; route add -net 10.6.0.0/16 gw "
         "192.0.2.1' (in 'route add -net 10.6.0.0/16 gw 192.0.2.1'): route (net-tools) is not "
         "read by nethook; write it as an ip command; not kept",
         "interfaces:7! 'up ip rule add from 192.0.2.60 table nosuch': unknown routing table "
         "'nosuch': not a number, nor a name defined in "
         "ROOT/etc/iproute2/rt_tables, ROOT/etc/iproute2/rt_tables.d/*.conf, "
         "ROOT/usr/share/iproute2/rt_tables, ROOT/usr/share/iproute2/rt_tables.d/*.conf; "
         "known names: default, main, storage, uplink; not kept"]),
    "source and source-directory, as ifupdown follows them": (
        {IF: "source-directory interfaces.d\nsource /etc/network/extra/*.cfg\n"
             "source /etc/network/missing.cfg\nsource /etc/network/maybe/*\n"
             "iface eth0 inet dhcp\n",
         "etc/network/interfaces.d/50-web": "iface eth0:1 inet static\n address 10.0.0.51/24\n",
         "etc/network/interfaces.d/10_db": "iface eth0:0 inet static\n address 10.0.0.50/24\n",
         "etc/network/interfaces.d/old.cfg": "iface eth0:9 inet static\n address 10.0.0.59/24\n",
         "etc/network/interfaces.d/web~": "iface eth0:8 inet static\n address 10.0.0.58/24\n",
         "etc/network/extra/b.cfg": "iface eth0:3 inet static\n address 10.0.0.53/24\n",
         "etc/network/extra/a.cfg": "iface eth0:2 inet static\n address 10.0.0.52/24\n"
                                    "source ../interfaces\n"},
        ["10_db:2 address 10.0.0.50/24 dev eth0 label eth0:0",
         "50-web:2 address 10.0.0.51/24 dev eth0 label eth0:1",
         "a.cfg:2 address 10.0.0.52/24 dev eth0 label eth0:2",
         "b.cfg:2 address 10.0.0.53/24 dev eth0 label eth0:3",
         "interfaces! already read; not read again",
         "interfaces:3! source /etc/network/missing.cfg: no such file"]),
    "templates, stray options, broken stanzas": (
        {IF: "address 10.0.0.1/24\n"
             "mapping eth*\n  script /usr/local/sbin/map-scheme\n  map HOME eth0-home\n"
             "iface base inet static\n  netmask 255.255.255.0\n"
             "iface eth0:0 inet static inherits base\n  address 10.0.0.50\n"
             "iface eth0:1 inet static inherits nothere\n  address 10.0.0.51\n"
             "iface eth2 inet\n  address 10.2.0.5/24\n"
             "iface averyveryverylongname:0 inet static\n  address 10.3.0.5/24\n"
             "iface lo inet loopback\n  up ip addr add 127.0.0.2/8 dev lo\n"},
        ["interfaces:8 address 10.0.0.50/24 dev eth0 label eth0:0",
         "interfaces:10 address 10.0.0.51/32 dev eth0 label eth0:1",
         "interfaces:1! 'address 10.0.0.1/24' is outside any iface stanza; ignored",
         "interfaces:11! 'iface eth2 inet' is not 'iface NAME [FAMILY METHOD]'; stanza "
         "ignored",
         "interfaces:9! inherits nothere, which no earlier inet stanza defines; inherits "
         "nothing",
         "interfaces:10! address 10.0.0.51 has no prefix length or netmask: kept as /32, as "
         "ip adds it",
         "interfaces:13! 'averyveryverylongname' is not a valid interface name: it is longer "
         "than 15 characters; stanza ignored"]),
    "address problems": (
        {IF: "iface eth0:0 inet static\n  address 2001:db8::5/64\n  address 10.0.0.5/24 x\n"
             "  address 10.0.0.6/24\n  netmask 255.0.255.0\n"
             "iface eth0:1 inet static\n  address 10.0.0.7\n  netmask 255.0.255.0\n"
             "iface eth0:averylonglabel inet static\n  address 10.0.0.8/24\n"},
        ["interfaces:3! address 10.0.0.5/24 x: ifup adds only the first 'address' of a "
         "stanza; write one stanza per address; not kept",
         "interfaces:4! address 10.0.0.6/24: ifup adds only the first 'address' of a stanza; "
         "write one stanza per address; not kept",
         "interfaces:2! address 2001:db8::5/64: an IPv6 address in an inet stanza; not kept",
         "interfaces:7! address 10.0.0.7: netmask '255.0.255.0' is not contiguous; not kept",
         "interfaces:10! address 10.0.0.8/24: label 'eth0:averylonglabel' is longer than 15 "
         "characters; not kept"]),
    "an alias stanza before its parent leaves the parent's primary alone (issue 16)": (
        {IF: "source /etc/network/interfaces.d/*\nauto eth1\niface eth1 inet static\n"
             "    address 1.2.3.4/24\n",
         "etc/network/interfaces.d/eth1-1": "auto eth1:1\niface eth1:1 inet static\n"
                                            "    address 1.5.3.4\n    netmask 255.255.255.0\n"},
        ["eth1-1:3 address 1.5.3.4/24 dev eth1 label eth1:1"]),
    "the same stanzas, parent first (issue 16)": (
        {IF: "auto eth1\niface eth1 inet static\n    address 1.2.3.4/24\n"
             "source /etc/network/interfaces.d/*\n",
         "etc/network/interfaces.d/eth1-1": "auto eth1:1\niface eth1:1 inet static\n"
                                            "    address 1.5.3.4\n    netmask 255.255.255.0\n"},
        ["eth1-1:3 address 1.5.3.4/24 dev eth1 label eth1:1"]),
    "ifupdown: netmask replaces a prefix written on the address (issue 16)": (
        {IF: "iface eth1 inet dhcp\niface eth1 inet static\n    address 1.2.3.4/14\n"
             "    netmask 255.255.255.128\n"
             "iface eth1 inet6 auto\niface eth1 inet6 static\n"
             "    address 3ffe:ffff:100:f101::5/64\n    netmask 128\n"},
        ["interfaces:3 address 1.2.3.4/25 dev eth1",
         "interfaces:7 address 3ffe:ffff:100:f101::5/128 dev eth1"]),
    "inherits: family and method from the template; extra words ignored (issue 16)": (
        {IF: "iface base inet static\n    netmask 255.255.255.0\n"
             "    up ip route add 10.9.0.0/16 via 10.0.0.1 table 100\n"
             "iface eth2 inet dhcp\n"
             "iface eth2:0 inherits base\n    address 10.2.0.5\n"
             "iface eth4:0 inet static extra\n    address 10.4.0.5/24\n"},
        ["interfaces:6 address 10.2.0.5/24 dev eth2 label eth2:0",
         "interfaces:3 route 10.9.0.0/16 via 10.0.0.1 dev eth2 table 100",
         "interfaces:8 address 10.4.0.5/24 dev eth4 label eth4:0"]),
    "ifupdown2 and ifupdown-ng syntax: bare iface, merged stanzas, use dhcp (issue 16)": (
        {IF: MODERN},
        ["interfaces:4 address 10.30.0.6/24 dev swp30",
         "interfaces:7 address 10.30.0.7/24 dev swp30",
         "interfaces:9 address 2001:db8:30::6/64 dev swp30",
         "interfaces:5 rule priority 100 from 10.30.0.6/32 table 100 on swp30",
         "interfaces:13 address 203.0.113.5/24 dev eth0",
         "interfaces:14 address 203.0.113.6/24 dev eth0",
         "interfaces:19 address 10.0.0.7/25 dev eth1"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_case(name: str, tmp_path: Path) -> None:
    files, expected = CASES[name]
    assert case_lines(tmp_path, ifupdown.read, files) == expected


def test_files_read_in_order(tmp_path: Path) -> None:
    imported, _ = run_case(tmp_path, ifupdown.read, CASES[
        "source and source-directory, as ifupdown follows them"][0])
    root = tmp_path / "root" / "etc" / "network"
    assert imported.files == tuple(str(p) for p in (
        root / "interfaces", root / "interfaces.d" / "10_db", root / "interfaces.d" / "50-web",
        root / "extra" / "a.cfg", root / "extra" / "b.cfg"))


def test_present(tmp_path: Path) -> None:
    assert not ifupdown.present(tmp_path)
    (tmp_path / "etc" / "network").mkdir(parents=True)
    (tmp_path / IF).symlink_to(tmp_path / "elsewhere")
    assert ifupdown.present(tmp_path)  # and reading it then reports "no such file"
    imported = ifupdown.read(tmp_path, ifupdown_tables())
    assert [p.message for p in imported.problems] == ["no such file; nothing read from it"]


def ifupdown_tables() -> ifupdown.RouteTables:
    return ifupdown.RouteTables.builtin()


def test_a_symlink_loop_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    etc = tmp_path / "etc" / "network"
    etc.mkdir(parents=True)
    (etc / "interfaces").symlink_to(etc / "interfaces")
    with pytest.raises(ConfigError, match="cannot read"):
        ifupdown.read(tmp_path, ifupdown_tables())


@pytest.mark.parametrize("marker, expected", [
    ("etc/network/ifupdown-ng.conf", CASES[
        "ifupdown2 and ifupdown-ng syntax: bare iface, merged stanzas, use dhcp (issue 16)"][1]),
    ("etc/network/ifupdown2/ifupdown2.conf", [
        "interfaces:4 address 10.30.0.6/24 dev swp30",
        "interfaces:7 address 10.30.0.7/24 dev swp30",
        "interfaces:9 address 2001:db8:30::6/64 dev swp30",
        "interfaces:5 rule priority 100 from 10.30.0.6/32 table 100 on swp30",
        "interfaces:19 address 10.0.0.7/25 dev eth1",
        "interfaces:13! address 203.0.113.5/24: ifupdown2 adds no static address to an "
        "interface that gets DHCP; not kept",
        "interfaces:14! address 203.0.113.6/24: ifupdown2 adds no static address to an "
        "interface that gets DHCP; not kept"]),
])
def test_the_installed_tool_chooses_the_dialect(marker: str, expected: list[str],
                                                tmp_path: Path) -> None:
    assert case_lines(tmp_path, ifupdown.read, {IF: MODERN, marker: ""}) == expected


def test_classic_reads_stanza_by_stanza(tmp_path: Path) -> None:
    """Without ifupdown2 or ifupdown-ng, classic files keep ifupdown's own reading."""
    files = {IF: "iface eth1 inet static\n    address 1.2.3.4/24\n"
                 "iface eth1 inet static\n    address 1.2.3.5/14\n    netmask 255.255.0.0\n"}
    assert case_lines(tmp_path, ifupdown.read, files) == [
        "interfaces:4 address 1.2.3.5/16 dev eth1"]
