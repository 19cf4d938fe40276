"""netplan, table-driven: YAML files in, objects and exact problems out."""

from __future__ import annotations

from pathlib import Path

import pytest

from nethook.importers import netplan
from tests.unit.importer_cases import case_lines

NP = "etc/netplan/"

CASES = {
    "a DHCP ethernet: addresses, routes, routing-policy": (
        {NP + "01-netcfg.yaml": """\
network:
  version: 2
  renderer: networkd
  ethernets:
    eth0:
      dhcp4: yes
      addresses:
        - 203.0.113.20/24
        - "203.0.113.21/24":
            label: "eth0:web"
            lifetime: forever
        - 2001:db8::20/64
      routes:
        - to: default
          via: 203.0.113.1
          table: 100
        - to: 10.10.0.0/16
          via: 203.0.113.1
          metric: 50
          on-link: true
          type: unicast
        - {to: "2001:db8:9::/48", via: "2001:db8::1", scope: global}
      routing-policy:
        - from: 203.0.113.20
          table: uplink
          priority: 1000
        - {to: 10.20.0.0/16, table: 100, mark: 16}
      nameservers:
        addresses: [203.0.113.53]
"""},
        ["01-netcfg.yaml:8 address 203.0.113.20/24 dev eth0",
         "01-netcfg.yaml:9 address 203.0.113.21/24 dev eth0 label eth0:web",
         "01-netcfg.yaml:12 address 2001:db8::20/64 dev eth0",
         "01-netcfg.yaml:14 route default via 203.0.113.1 dev eth0 table 100",
         "01-netcfg.yaml:17 route 10.10.0.0/16 via 203.0.113.1 dev eth0 onlink metric 50 "
         "table 254",
         "01-netcfg.yaml:22 route 2001:db8:9::/48 via 2001:db8::1 dev eth0 scope global "
         "metric 1024 table 254",
         "01-netcfg.yaml:24 rule priority 1000 from 203.0.113.20/32 table 100 on eth0",
         "01-netcfg.yaml:27 rule from all to 10.20.0.0/16 fwmark 0x10 table 100 on eth0"]),
    "static interfaces belong to the renderer": (
        {NP + "50-static.yaml": "network:\n  ethernets:\n    eth1:\n      dhcp4: false\n"
                                "      addresses: [10.1.0.5/24]\n"
                                "      routes: [{to: default, via: 10.1.0.1}]\n"
                                "    eth2:\n      addresses: [10.2.0.5/24]\n"},
        []),
    "files merge in name order across lib, etc and run": (
        {"lib/netplan/10-base.yaml": "network:\n  ethernets:\n    eth0: {dhcp4: true}\n",
         NP + "10-base.yaml": "network:\n  ethernets:\n    eth0: {dhcp6: true}\n",
         "run/netplan/10-base.yaml": "network:\n  ethernets:\n    eth0:\n      dhcp4: true\n",
         NP + "20-extra.yaml": "network:\n  ethernets:\n    eth0:\n"
                               "      addresses: [192.0.2.5/24]\n",
         "lib/netplan/30-more.yaml": "network:\n  ethernets:\n    eth0:\n"
                                     "      addresses: [192.0.2.6/24]\n",
         NP + "90-off.yaml": "network:\n  ethernets:\n    eth3: {dhcp4: true}\n"
                             "    eth4: {dhcp4: true, addresses: [192.0.2.9/24]}\n",
         NP + "99-off.yaml": "network:\n  ethernets:\n    eth4: {dhcp4: n}\n"},
        ["20-extra.yaml:4 address 192.0.2.5/24 dev eth0",
         "30-more.yaml:4 address 192.0.2.6/24 dev eth0"]),
    "names from set-name and match; other matches are reported": (
        {NP + "50-cloud-init.yaml": """\
network:
    version: 2
    ethernets:
        nic0:
            dhcp4: true
            match:
                macaddress: 52:54:00:ab:cd:ef
            set-name: eth0
            addresses: [192.0.2.5/24]
        lan:
            dhcp4: true
            match: {name: enp3s0}
            addresses: [192.0.2.6/24]
        any:
            dhcp4: true
            match: {name: "en*"}
            addresses: [192.0.2.7/24]
        bymac:
            dhcp4: true
            match: {macaddress: "52:54:00:ab:cd:00", driver: e1000}
            addresses: [192.0.2.8/24]
    vlans:
        vlan20: {id: 20, link: eth0, dhcp4: on, addresses: [172.20.0.5/24]}
    bonds:
        bond0: {interfaces: [eth1, eth2], dhcp6: true, addresses: ["2001:db8:b::5/64"]}
    bridges:
        br0: {interfaces: [eth3], dhcp4: true, addresses: [10.3.0.5/24]}
    wifis:
        wlan0: {dhcp4: true, addresses: [10.4.0.5/24]}
"""},
        ["50-cloud-init.yaml:9 address 192.0.2.5/24 dev eth0",
         "50-cloud-init.yaml:13 address 192.0.2.6/24 dev enp3s0",
         "50-cloud-init.yaml:25 address 2001:db8:b::5/64 dev bond0",
         "50-cloud-init.yaml:27 address 10.3.0.5/24 dev br0",
         "50-cloud-init.yaml:23 address 172.20.0.5/24 dev vlan20",
         "50-cloud-init.yaml:14! network.ethernets.any: it is matched by name; nethook does "
         "not look devices up, so its addresses, routes and rules are not kept",
         "50-cloud-init.yaml:18! network.ethernets.bymac: it is matched by driver, macaddress; "
         "nethook does not look devices up, so its addresses, routes and rules are not kept"]),
    "items nethook cannot keep are reported, the rest kept": (
        {NP + "60-x.yaml": """\
network:
  ethernets:
    eth0:
      dhcp4: true
      addresses:
        - 10.0.0.300/24
        - 10.0.0.6
        - {"10.0.0.7/24": {label: "eth1:7"}}
        - 10.0.0.8/24
      routes:
        - {to: 10.8.0.0/16, via: 10.0.0.1, mtu: 1400}
        - {to: 10.9.0.0/16, type: blackhole}
        - {to: 10.10.0.0/16, via: 10.0.0.1, table: 255}
        - {via: 10.0.0.1}
        - {to: 10.11.0.0/16, via: 10.0.0.1, congestion-window: 10}
      routing-policy:
        - {from: 10.0.0.8, table: 100, type-of-service: 16}
        - {from: 10.0.0.8, priority: 10}
"""},
        ["60-x.yaml:9 address 10.0.0.8/24 dev eth0",
         "60-x.yaml:18 rule priority 10 from 10.0.0.8/32 table 254 on eth0",
         "60-x.yaml:6! network.ethernets.eth0.addresses[0]: '10.0.0.300/24' is not an IP "
         "address; not kept",
         "60-x.yaml:7! network.ethernets.eth0.addresses[1]: '10.0.0.6' has no prefix length; "
         "not kept",
         "60-x.yaml:8! network.ethernets.eth0.addresses[2].10.0.0.7/24.label: label 'eth1:7' "
         "must be "
         "'eth0', or 'eth0:' followed by a suffix; not kept",
         "60-x.yaml:11! network.ethernets.eth0.routes[0].mtu: 'mtu' is not supported by "
         "nethook; not kept",
         "60-x.yaml:12! network.ethernets.eth0.routes[1].type: type 'blackhole' is not "
         "supported by nethook (it keeps unicast routes); not kept",
         "60-x.yaml:13! network.ethernets.eth0.routes[2].table: table 255 is the kernel's "
         "local table; nethook does not declare routes or rules in it; not kept",
         "60-x.yaml:14! network.ethernets.eth0.routes[3]: 'to' is required (a network such as "
         "10.0.0.0/24, or default); not kept",
         "60-x.yaml:15! network.ethernets.eth0.routes[4].congestion-window: "
         "'congestion-window' is not supported by nethook; not kept",
         "60-x.yaml:17! network.ethernets.eth0.routing-policy[0].type-of-service: "
         "'type-of-service' is not supported by nethook; not kept"]),
    "what networkd makes of netplan's shorthands (issue 16)": (
        {NP + "01-netcfg.yaml": """\
network:
  version: 2
  ethernets:
    renderer: networkd
    eth0:
      dhcp4: true
      routes:
        - {to: 10.10.10.8, via: 192.0.2.1}
        - {to: 0.0.0.0, via: 192.0.2.1, table: 100}
        - {to: "9876::1234/96", via: "2001:db8::1"}
        - {to: 10.20.0.5/16, via: 192.0.2.1}
        - 10.30.0.0/16
      routing-policy:
        - {from: 192.0.2.5, priority: 10}
        - {table: 100, priority: 11}
        - {to: "2001:db8:5::/48", table: uplink}
  bridges:
    renderer: NetworkManager
"""},
        ["01-netcfg.yaml:8 route 10.10.10.8/32 via 192.0.2.1 dev eth0 table 254",
         "01-netcfg.yaml:9 route 0.0.0.0/32 via 192.0.2.1 dev eth0 table 100",
         "01-netcfg.yaml:10 route 9876::/96 via 2001:db8::1 dev eth0 metric 1024 table 254",
         "01-netcfg.yaml:14 rule priority 10 from 192.0.2.5/32 table 254 on eth0",
         "01-netcfg.yaml:16 rule -6 from all to 2001:db8:5::/48 table 100 on eth0",
         "01-netcfg.yaml:11! network.ethernets.eth0.routes[3].to: '10.20.0.5/16' has host bits "
         "set (the network is 10.20.0.0/16); not kept",
         "01-netcfg.yaml:12! network.ethernets.eth0.routes[4]: expected a mapping, got "
         "'10.30.0.0/16'; not kept",
         "01-netcfg.yaml:15! network.ethernets.eth0.routing-policy[1]: a rule needs 'from' or "
         "'to'; netplan refuses it (IP routing policy must include either a 'from' or 'to' "
         "IP); not kept"]),
    "broken files are skipped, the others still count": (
        {NP + "10-bad.yaml": "network:\n  ethernets:\n    eth0: {dhcp4: true\n",
         NP + "20-list.yaml": "network:\n  - eth0\n",
         NP + "30-flag.yaml": "network:\n  ethernets:\n    eth1: {dhcp4: maybe, addresses: "
                              "[10.1.0.5/24]}\n    eth2: {dhcp4: true, addresses: 10.2.0.5/24}\n",
         NP + "40-good.yaml": "network:\n  ethernets:\n    eth0:\n      dhcp4: true\n"
                              "      addresses: [10.0.0.5/24]\n",
         NP + "50-empty.yaml": "# nothing yet\n",
         NP + "60-dup.yaml": "network:\n  ethernets:\n    eth0: {}\n    eth0: {}\n",
         NP + "notes.txt": "network: {\n"},
        ["40-good.yaml:5 address 10.0.0.5/24 dev eth0",
         "10-bad.yaml:4! invalid YAML: ...; file not read",
         "20-list.yaml:2! network: expected a mapping, got a list; file not read",
         "30-flag.yaml:3! network.ethernets.eth1.dhcp4: expected true or false, got 'maybe'; "
         "not read",
         "30-flag.yaml:4! network.ethernets.eth2.addresses: expected a list, got "
         "'10.2.0.5/24'; not kept",
         "60-dup.yaml:4! network.ethernets: duplicate key 'eth0' (first at line 3); file not "
         "read"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_case(name: str, tmp_path: Path) -> None:
    files, expected = CASES[name]
    assert case_lines(tmp_path, netplan.read, files) == expected


def test_present_and_shadowing(tmp_path: Path) -> None:
    assert not netplan.present(tmp_path)
    for directory in ("lib/netplan", "etc/netplan", "run/netplan"):
        (tmp_path / directory).mkdir(parents=True)
        (tmp_path / directory / "50-x.yaml").write_text("network: {}\n")
    (tmp_path / "etc/netplan/README").write_text("not yaml\n")
    assert netplan.present(tmp_path)
    assert netplan.files(tmp_path) == [tmp_path / "run/netplan/50-x.yaml"]
