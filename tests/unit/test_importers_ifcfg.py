"""RHEL/CentOS network-scripts, table-driven: files in, objects and exact problems out."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from nethook.config.rt_tables import load_tables
from nethook.importers import ifcfg
from tests.unit.importer_cases import Files, case_lines, run_case

NS = "etc/sysconfig/network-scripts/"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers"
DHCP_ETH0 = "DEVICE=eth0\nBOOTPROTO=dhcp\nONBOOT=yes\n"
STATIC_ETH0 = "DEVICE=eth0\nBOOTPROTO=none\nONBOOT=yes\nIPADDR=10.0.0.5\nPREFIX=24\n"

CASES = {
    "dhcp interface: every static address is an extra": (
        {NS + "ifcfg-eth0": DHCP_ETH0 + "IPADDR=192.168.50.10\nPREFIX=24\n"
                                        "IPADDR1=192.168.51.10\nNETMASK1=255.255.255.128\n"},
        ["ifcfg-eth0:4 address 192.168.50.10/24 dev eth0",
         "ifcfg-eth0:6 address 192.168.51.10/25 dev eth0"]),
    "static interface: the first address is its own primary": (
        {NS + "ifcfg-eth0": STATIC_ETH0 + "IPADDR1=10.0.0.25\nPREFIX1=24\n"},
        ["ifcfg-eth0:6 address 10.0.0.25/24 dev eth0"]),
    "static interface numbered from 0": (
        {NS + "ifcfg-eth0": "DEVICE=eth0\nIPADDR0=10.0.0.5\nPREFIX0=24\n"
                            "IPADDR1=10.0.0.6\nPREFIX1=24\n"},
        ["ifcfg-eth0:4 address 10.0.0.6/24 dev eth0"]),
    "the list stops at the first missing IPADDRn from 2 on": (
        {NS + "ifcfg-eth0": DHCP_ETH0 + "IPADDR1=10.0.0.6\nPREFIX1=24\n"
                                        "IPADDR3=10.0.0.8\nPREFIX3=24\n"},
        ["ifcfg-eth0:4 address 10.0.0.6/24 dev eth0",
         "ifcfg-eth0:6! IPADDR3 is not used: initscripts stops at the first missing IPADDRn "
         "from IPADDR2 on (IPADDR2 is missing)"]),
    "no prefix: the classful one, with a warning": (
        {NS + "ifcfg-eth0": DHCP_ETH0 + "IPADDR1=172.16.5.5\n"},
        ["ifcfg-eth0:4 address 172.16.5.5/16 dev eth0",
         "ifcfg-eth0:4! IPADDR1 172.16.5.5 has no PREFIX1 or NETMASK1: kept as /16, the "
         "classful prefix initscripts gives it"]),
    "ONBOOT=no: the interface and everything with it is skipped": (
        {NS + "ifcfg-eth1": "DEVICE=eth1\nBOOTPROTO=dhcp\nONBOOT=no\nIPADDR1=10.1.0.6\n"
                            "PREFIX1=24\n",
         NS + "ifcfg-eth1:0": "DEVICE=eth1:0\nIPADDR=10.1.0.7\nPREFIX=24\n",
         NS + "route-eth1": "10.8.0.0/16 via 10.1.0.1\n"},
        []),
    "alias: label from DEVICE, netmask, quotes and comments": (
        {NS + "ifcfg-eth0": DHCP_ETH0,
         NS + "ifcfg-eth0:0": "# web\nDEVICE='eth0:0'\nIPADDR=\"203.0.113.10\"  # www\n"
                              "NETMASK=255.255.255.0\nONBOOT=no\n"},
        ["ifcfg-eth0:0:3 address 203.0.113.10/24 dev eth0 label eth0:0"]),
    "alias without DEVICE: the label is the file's name": (
        {NS + "ifcfg-eth0": DHCP_ETH0,
         NS + "ifcfg-eth0:web": "IPADDR=203.0.113.10\nPREFIX=24\n"},
        ["ifcfg-eth0:web:1 address 203.0.113.10/24 dev eth0 label eth0:web"]),
    "alias inherits the parent's PREFIX, which wins over its own NETMASK": (
        {NS + "ifcfg-eth0": STATIC_ETH0,
         NS + "ifcfg-eth0:0": "DEVICE=eth0:0\nIPADDR=10.0.0.50\n",
         NS + "ifcfg-eth0:1": "DEVICE=eth0:1\nIPADDR=10.0.0.51\nNETMASK=255.255.0.0\n"},
        ["ifcfg-eth0:0:2 address 10.0.0.50/24 dev eth0 label eth0:0",
         "ifcfg-eth0:1:2 address 10.0.0.51/24 dev eth0 label eth0:1",
         "ifcfg-eth0:1:3! NETMASK 255.255.0.0 is not used: initscripts gives an alias the "
         "PREFIX of ifcfg-eth0 (24) unless the alias sets PREFIX itself; kept as /24"]),
    "alias without any prefix": (
        {NS + "ifcfg-eth0": DHCP_ETH0,
         NS + "ifcfg-eth0:0": "DEVICE=eth0:0\nIPADDR=192.0.2.10\n"},
        ["ifcfg-eth0:0:2 address 192.0.2.10/24 dev eth0 label eth0:0",
         "ifcfg-eth0:0:2! IPADDR 192.0.2.10 has no PREFIX or NETMASK here or in ifcfg-eth0: "
         "kept as /24, the classful prefix initscripts gives it"]),
    "alias ONPARENT=no is not brought up with its parent, nor its routes": (
        {NS + "ifcfg-eth0": DHCP_ETH0,
         NS + "ifcfg-eth0:3": "DEVICE=eth0:3\nIPADDR=203.0.113.13\nPREFIX=24\nONPARENT=no\n",
         NS + "route-eth0:3": "10.13.0.0/16 via 203.0.113.1\n"},
        []),
    "alias problems": (
        {NS + "ifcfg-eth0": DHCP_ETH0,
         NS + "ifcfg-eth0:1": "DEVICE=eth1:1\nIPADDR=10.0.0.51\nPREFIX=24\n",
         NS + "ifcfg-eth0:2": "DEVICE=eth0:2\nIPADDR=10.0.0.300\nPREFIX=24\n",
         NS + "ifcfg-eth0:3": "DEVICE=eth0:3\nPREFIX=24\n",
         NS + "ifcfg-eth0:4": "DEVICE=eth0:4\nIPADDR=2001:db8::4\nPREFIX=64\n",
         NS + "ifcfg-eth0:x-y": "IPADDR=10.0.0.55\nPREFIX=24\n"},
        ["ifcfg-eth0:1:1! DEVICE=eth1:1 is not an alias of eth0; not kept",
         "ifcfg-eth0:2:2! IPADDR: '10.0.0.300' is not an IP address; not kept",
         "ifcfg-eth0:3:1! no IPADDR; not kept",
         "ifcfg-eth0:4:2! IPADDR: '2001:db8::4' is not an IPv4 address; not kept",
         "ifcfg-eth0:x-y! 'eth0:x-y' has an invalid alias number; not kept"]),
    "files nobody brings up": (
        {NS + "ifcfg-eth7:0": "DEVICE=eth7:0\nIPADDR=10.7.0.1\nPREFIX=24\n",
         NS + "route-eth7": "10.8.0.0/16 via 10.7.0.254\n"},
        ["ifcfg-eth7:0! no ifcfg file brings up its interface, so initscripts never reads "
         "this file; not kept",
         "route-eth7! no ifcfg file brings up its interface, so initscripts never reads "
         "this file; not kept"]),
    "backup files are ignored as initscripts ignores them": (
        {NS + "ifcfg-eth0": DHCP_ETH0,
         **{NS + f"ifcfg-eth0:0{suffix}": "DEVICE=eth0:0\nIPADDR=10.0.0.9\nPREFIX=24\n"
            for suffix in ("~", ".bak", ".old", ".orig", ".rpmnew", ".rpmorig", ".rpmsave")},
         NS + "route-eth0.bak": "10.8.0.0/16 via 10.0.0.1\n"},
        []),
    "shell syntax: commands, expansions, multi-line quotes": (
        {NS + "ifcfg-eth0": "DEVICE=eth0\nBOOTPROTO=dhcp\nifup eth1\nexport IPADDR1=10.0.0.6\n"
                            "PREFIX1=24\nIPADDR2=$NET.7\nPREFIX2=24\n"
                            "ETHTOOL_OPTS=\"speed 100\n  duplex full\"\nIPADDR3='10.0.0.$9'\n"
                            "PREFIX3=24\n"},
        ["ifcfg-eth0:4 address 10.0.0.6/24 dev eth0",
         "ifcfg-eth0:3! 'ifup eth1' is not a KEY=VALUE assignment; line ignored",
         "ifcfg-eth0:6! IPADDR2: it uses shell expansion, which nethook does not evaluate; "
         "not kept",
         "ifcfg-eth0:10! IPADDR3: '10.0.0.$9' is not an IP address; not kept"]),
    "a quote never closed": (
        {NS + "ifcfg-eth0": DHCP_ETH0 + "IPADDR1=10.0.0.6\nPREFIX1=24\nNAME=\"eth0\n"},
        ["ifcfg-eth0:4 address 10.0.0.6/24 dev eth0",
         "ifcfg-eth0:6! a quote is never closed; the rest of the file is not read"]),
    "range: labels from CLONENUM_START, prefix from the parent": (
        {NS + "ifcfg-eth0": STATIC_ETH0,
         NS + "ifcfg-eth0-range0": "IPADDR_START=10.0.0.100\nIPADDR_END=10.0.0.102\n"
                                   "CLONENUM_START=7\n"},
        ["ifcfg-eth0-range0:1 address 10.0.0.100/24 dev eth0 label eth0:7",
         "ifcfg-eth0-range0:1 address 10.0.0.101/24 dev eth0 label eth0:8",
         "ifcfg-eth0-range0:1 address 10.0.0.102/24 dev eth0 label eth0:9"]),
    "range problems": (
        {NS + "ifcfg-eth0": DHCP_ETH0,
         NS + "ifcfg-eth0-range0": "IPADDR_START=10.0.0.100\nIPADDR_END=10.0.1.2\n"
                                   "CLONENUM_START=0\nPREFIX=24\n",
         NS + "ifcfg-eth0-range1": "IPADDR_START=10.0.2.9\nIPADDR_END=10.0.2.1\n"
                                   "CLONENUM_START=0\nPREFIX=24\n",
         NS + "ifcfg-eth0-range2": "IPADDR_START=10.0.3.1\nPREFIX=24\n",
         NS + "ifcfg-eth0-range3": "IPADDR_START=10.0.4.1\nIPADDR_END=10.0.4.2\nPREFIX=24\n",
         NS + "ifcfg-eth0-range4": "IPADDR_START=10.0.5.1\nIPADDR_END=10.0.5.2\nPREFIX=24\n"
                                   "CLONENUM_START=x\n"},
        ["ifcfg-eth0-range3:1 address 10.0.4.1/24 dev eth0 label eth0:0",
         "ifcfg-eth0-range3:1 address 10.0.4.2/24 dev eth0 label eth0:1",
         "ifcfg-eth0-range0:1! IPADDR_START 10.0.0.100 and IPADDR_END 10.0.1.2 are not in the "
         "same /24, which initscripts requires; range not kept",
         "ifcfg-eth0-range1:1! IPADDR_START 10.0.2.9 is after IPADDR_END 10.0.2.1; range not "
         "kept",
         "ifcfg-eth0-range2:1! IPADDR_START and IPADDR_END are both required; range not kept",
         "ifcfg-eth0-range3:1! CLONENUM_START is not set: labels start at eth0:0 (initscripts "
         "would label the first address 'eth0:')",
         "ifcfg-eth0-range4:1! CLONENUM_START 'x' is not a number; range not kept"]),
    "route and rule files in ip format": (
        {NS + "ifcfg-eth0.4": "DEVICE=eth0.4\nVLAN=yes\nBOOTPROTO=dhcp\n",
         NS + "route-eth0.4": "# storage\ndefault via 172.16.4.1 dev eth0.4 table storage\n"
                              "\n  172.16.4.0/24   dev eth0.4 table 200 scope link\n"
                              "10.9.0.0/16 via 172.16.4.1 table storage # NFS\n"
                              "10.10.0.0/16 via 172.16.4.1 mtu 1400\n"
                              "2001:db8::/32 via 2001:db8::1\n"
                              "10.11.0.0/16 via 172.16.4.1 table nosuch\n"
                              "10.12.0.0/16 via 172.16.4.1 table local\n",
         NS + "rule-eth0.4": "from 172.16.4.0/24 table storage priority 1004\n"
                             "to 172.16.9.0/24 lookup storage pref 1005\n"
                             "from 172.16.4.0/24 tos 0x10 table storage\n",
         NS + "rule6-eth0.4": "from 2001:db8:4::/64 table storage priority 1006\n",
         NS + "route6-eth0.4": "2001:db8:9::/48 via 2001:db8:4::1 metric 5\n"},
        ["route-eth0.4:2 route default via 172.16.4.1 dev eth0.4 table 200",
         "route-eth0.4:4 route 172.16.4.0/24 dev eth0.4 scope link table 200",
         "route6-eth0.4:1 route 2001:db8:9::/48 via 2001:db8:4::1 dev eth0.4 metric 5 "
         "table 254",
         "rule-eth0.4:1 rule priority 1004 from 172.16.4.0/24 table 200 on eth0.4",
         "rule-eth0.4:2 rule priority 1005 from all to 172.16.9.0/24 table 200 on eth0.4",
         "rule6-eth0.4:1 rule -6 priority 1006 from 2001:db8:4::/64 table 200 on eth0.4",
         "route-eth0.4:5! '10.9.0.0/16 via 172.16.4.1 table storage # NFS': '#' is not an "
         "argument nethook knows here; not kept",
         "route-eth0.4:6! '10.10.0.0/16 via 172.16.4.1 mtu 1400': 'mtu' is not supported by "
         "nethook; not kept",
         "route-eth0.4:7! '2001:db8::/32 via 2001:db8::1': '2001:db8::/32' is IPv6 but the "
         "command is IPv4; not kept",
         "route-eth0.4:8! '10.11.0.0/16 via 172.16.4.1 table nosuch': unknown routing table "
         "'nosuch': not a number, nor a name defined in ROOT/etc/iproute2/rt_tables, "
         "ROOT/etc/iproute2/rt_tables.d/*.conf, ROOT/usr/share/iproute2/rt_tables, "
         "ROOT/usr/share/iproute2/rt_tables.d/*.conf; known names: default, main, storage, "
         "uplink; not kept",
         "route-eth0.4:9! '10.12.0.0/16 via 172.16.4.1 table local': table 'local' (255) is "
         "the kernel's local table; nethook does not declare routes or rules in it; not kept",
         "rule-eth0.4:3! 'from 172.16.4.0/24 tos 0x10 table storage': 'tos' is not supported "
         "by nethook; not kept"]),
    "route file in the key-value format": (
        {NS + "ifcfg-eth0": STATIC_ETH0,
         NS + "route-eth0": "ADDRESS0=192.0.2.0\nNETMASK0=255.255.255.0\nGATEWAY0=10.0.0.254\n"
                            "METRIC0=10\nADDRESS1=172.20.0.0\nGATEWAY1=10.0.0.254\n"
                            "ADDRESS2=198.51.100.0\nNETMASK2=255.255.255.0\n"
                            "OPTIONS2=\"table storage\"\nADDRESS3=192.0.2.1\n"
                            "NETMASK3=255.255.255.0\nADDRESS5=203.0.113.0\n"},
        ["route-eth0:1 route 192.0.2.0/24 via 10.0.0.254 dev eth0 metric 10 table 254",
         "route-eth0:5 route 172.20.0.0/16 via 10.0.0.254 dev eth0 table 254",
         "route-eth0:7 route 198.51.100.0/24 dev eth0 table 200",
         "route-eth0:5! NETMASK1 is missing: kept as /16, the classful prefix initscripts "
         "gives 172.20.0.0",
         "route-eth0:10! route 3 (ADDRESS3=192.0.2.1): '192.0.2.1/24' has host bits set (the "
         "network is 192.0.2.0/24); not kept",
         "route-eth0:12! ADDRESS5 is not used: initscripts stops at the first missing "
         "ADDRESSn (ADDRESS4 is missing)"]),
    "files named after the config, not the device": (
        {NS + "ifcfg-System_eth0": "NAME=\"System eth0\"\nDEVICE=eth0\nBOOTPROTO=dhcp\n",
         NS + "route-System_eth0": "10.8.0.0/16 via 10.0.0.1 table uplink\n",
         NS + "rule-eth0": "from 10.0.0.50 table uplink priority 900\n"},
        ["route-System_eth0:1 route 10.8.0.0/16 via 10.0.0.1 dev eth0 table 100",
         "rule-eth0:1 rule priority 900 from 10.0.0.50/32 table 100 on eth0"]),
    "alias route files, unless NO_ALIASROUTING=yes": (
        {NS + "ifcfg-eth0": DHCP_ETH0,
         NS + "ifcfg-eth0:0": "DEVICE=eth0:0\nIPADDR=10.0.0.50\nPREFIX=24\n",
         NS + "route-eth0:0": "ADDRESS0=10.50.0.0\nNETMASK0=255.255.0.0\nGATEWAY0=10.0.0.1\n",
         NS + "ifcfg-eth0:1": "DEVICE=eth0:1\nIPADDR=10.0.0.51\nPREFIX=24\nNO_ALIASROUTING=yes\n",
         NS + "route-eth0:1": "10.51.0.0/16 via 10.0.0.1\n"},
        ["ifcfg-eth0:0:2 address 10.0.0.50/24 dev eth0 label eth0:0",
         "route-eth0:0:1 route 10.50.0.0/16 via 10.0.0.1 dev eth0 table 254",
         "ifcfg-eth0:1:2 address 10.0.0.51/24 dev eth0 label eth0:1"]),
    "IPv6 secondaries with IPV6INIT=yes only": (
        {NS + "ifcfg-eth0": STATIC_ETH0 + "IPV6INIT=yes\nIPV6ADDR=2001:db8::5/64\n"
                            "IPV6ADDR_SECONDARIES=\"2001:db8::25 2001:db8:1::26/80 fe80::9\"\n",
         NS + "ifcfg-eth1": "DEVICE=eth1\nBOOTPROTO=dhcp\nIPV6ADDR_SECONDARIES=2001:db8::99\n"},
        ["ifcfg-eth0:8 address 2001:db8::25/64 dev eth0",
         "ifcfg-eth0:8 address 2001:db8:1::26/80 dev eth0",
         "ifcfg-eth0:8! IPV6ADDR_SECONDARIES: 'fe80::9/64' is in fe80::/64, where the kernel "
         "makes its own link-local addresses; nethook does not keep them; not kept"]),
    "several assignments on one line, as bash runs them (issue 16)": (
        {NS + "ifcfg-eth0": DHCP_ETH0 + "IPADDR2=\"10.0.1.5\"; PREFIX2=24\n"
                            "IPADDR1=10.0.1.4 && PREFIX1=24 # both\n"
                            "IPADDR3=10.0.1.6 | PREFIX3=24\n"},
        ["ifcfg-eth0:5 address 10.0.1.4/24 dev eth0",
         "ifcfg-eth0:4 address 10.0.1.5/24 dev eth0",
         "ifcfg-eth0:6! 'IPADDR3=10.0.1.6 | PREFIX3=24' is not a KEY=VALUE assignment; line "
         "ignored"]),
    "NetworkManager's ROUTING_RULE_N and ROUTING_RULE6_N (issue 16)": (
        {NS + "ifcfg-eth0": DHCP_ETH0 +
                            "ROUTING_RULE_10=\"priority 20 from 10.0.0.0/8 table 100\"\n"
                            "ROUTING_RULE_2=\"priority 10 from 0.0.0.0/0 table 1\"\n"
                            "ROUTING_RULE6_1=\"priority 30 to 2001:db8::/32 table uplink\"\n"
                            "ROUTING_RULE_3=\"priority 40 from 10.0.0.0/8 tos 0x10 table 1\"\n"
                            "ROUTING_RULE_4=\"priority 50 from 2001:db8::/32 table 1\"\n"
                            "ROUTING_RULE_5=\"\"\n",
         NS + "ifcfg-eth1": "DEVICE=eth1\nONBOOT=no\nROUTING_RULE_1=\"from all table 9\"\n"},
        ["ifcfg-eth0:6 rule -6 priority 30 from all to 2001:db8::/32 table 100 on eth0",
         "ifcfg-eth0:5 rule priority 10 from all table 1 on eth0",
         "ifcfg-eth0:4 rule priority 20 from 10.0.0.0/8 table 100 on eth0",
         "ifcfg-eth0:7! ROUTING_RULE_3 'priority 40 from 10.0.0.0/8 tos 0x10 table 1': 'tos' "
         "is not supported by nethook; not kept",
         "ifcfg-eth0:8! ROUTING_RULE_4 'priority 50 from 2001:db8::/32 table 1': "
         "'2001:db8::/32' is IPv6 but the command is IPv4; not kept"]),
    "an interface name the kernel would refuse": (
        {NS + "ifcfg-eth0": "DEVICE=\"eth 0\"\nBOOTPROTO=dhcp\nIPADDR=10.0.0.5\nPREFIX=24\n"},
        ["ifcfg-eth0:1! 'eth 0' is not a valid interface name: it contains whitespace; file "
         "not read"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_case(name: str, tmp_path: Path) -> None:
    files, expected = CASES[name]
    assert case_lines(tmp_path, ifcfg.read, files) == expected


def objects(files: Files, tmp_path: Path) -> List[str]:
    return run_case(tmp_path, ifcfg.read, files)[1]


def test_order_follows_initscripts(tmp_path: Path) -> None:
    """Interface addresses, its aliases, ranges, then route and rule files; by file name."""
    imported, _ = run_case(tmp_path, ifcfg.read, {
        NS + "ifcfg-eth1": "DEVICE=eth1\nBOOTPROTO=dhcp\nIPADDR=10.1.0.5\nPREFIX=24\n",
        NS + "rule-eth0": "from 10.0.0.50 table 100\n",
        NS + "ifcfg-eth0-range0": "IPADDR_START=10.0.0.60\nIPADDR_END=10.0.0.60\n"
                                  "CLONENUM_START=9\nPREFIX=24\n",
        NS + "ifcfg-eth0:0": "DEVICE=eth0:0\nIPADDR=10.0.0.50\nPREFIX=24\n",
        NS + "route-eth0": "10.8.0.0/16 via 10.0.0.1 table 100\n",
        NS + "ifcfg-eth0": DHCP_ETH0 + "IPADDR=10.0.0.40\nPREFIX=24\n",
    })
    assert [o.describe() for o in imported.objects] == [
        "10.0.0.40/24 dev eth0", "10.0.0.50/24 dev eth0 label eth0:0",
        "10.0.0.60/24 dev eth0 label eth0:9", "10.8.0.0/16 via 10.0.0.1 dev eth0 table 100",
        "from 10.0.0.50/32 table 100", "10.1.0.5/24 dev eth1"]
    assert [Path(f).name for f in imported.files] == [
        "ifcfg-eth0", "ifcfg-eth0:0", "ifcfg-eth0-range0", "route-eth0", "rule-eth0",
        "ifcfg-eth1"]


def test_present(tmp_path: Path) -> None:
    assert not ifcfg.present(tmp_path)
    (tmp_path / NS).mkdir(parents=True)
    (tmp_path / NS / "ifcfg-eth0.bak").write_text(DHCP_ETH0)
    (tmp_path / NS / "ifup-eth").write_text("#!/bin/bash\n")
    assert not ifcfg.present(tmp_path)
    (tmp_path / NS / "route-eth0").write_text("")
    assert ifcfg.present(tmp_path)


def test_two_hundred_aliases_from_one_range_file() -> None:
    """A hosting range file: 200 aliases from one file (its cost is make bench's)."""
    root = FIXTURES / "hosting-range"
    imported = ifcfg.read(root, load_tables(root))
    labels = [getattr(o, "label", None) for o in imported.objects]
    assert labels == [f"eth0:{n}" for n in range(10, 210)]
    assert not imported.problems
