"""``ip ... add`` commands and ``sh`` command lines, read as data: table-driven."""

from __future__ import annotations

from typing import Dict, List, Optional

import pytest

from nethook.config.rt_tables import RouteTables, parse_rt_tables
from nethook.importers import iproute, shellcmd
from nethook.model.objects import Origin, Rule

NAMED = RouteTables(names={**RouteTables.builtin().names,
                           **{t.name: t for t in parse_rt_tables("100 uplink\n", "rt")}})
HERE = Origin("interfaces", 7)


def command(text: str) -> Optional[str]:
    found = iproute.from_command(text.split(), ifname="eth0", tables=NAMED, origin=HERE)
    if found is None:
        return None
    on = f" on {found.ifname}" if isinstance(found, Rule) else ""
    return f"{type(found).__name__.lower()} {found.describe()}{on}"


@pytest.mark.parametrize("text, expected", [
    ("ip addr add 10.0.0.5/24 dev eth0 label eth0:1",
     "address 10.0.0.5/24 dev eth0 label eth0:1"),
    ("/sbin/ip address add 10.0.0.5/24 brd + dev eth0", "address 10.0.0.5/24 dev eth0"),
    ("ip a add local 10.0.0.5/24 dev eth0:1", "address 10.0.0.5/24 dev eth0"),
    ("ip -4 addr add 10.0.0.5 dev eth0 label eth0", "address 10.0.0.5/32 dev eth0"),
    ("ip addr replace 10.0.0.5/24 dev eth0 valid_lft forever preferred_lft forever scope global",
     "address 10.0.0.5/24 dev eth0"),
    ("ip -6 addr add 2001:db8::5/64 dev eth0", "address 2001:db8::5/64 dev eth0"),
    ("ip route add default via 10.0.0.1 table uplink",
     "route default via 10.0.0.1 dev eth0 table 100"),
    ("ip r a 10.8.0.0/16 via 10.0.0.1 dev eth1 metric 20 proto static onlink",
     "route 10.8.0.0/16 via 10.0.0.1 dev eth1 onlink metric 20 table 254"),
    ("ip route append to 10.9.0.1 dev eth0 src 10.0.0.5 table 200 scope link",
     "route 10.9.0.1/32 dev eth0 src 10.0.0.5 scope link table 200"),
    ("ip -6 route add default via inet6 fe80::1 dev eth0 table 100",
     "route default via fe80::1 dev eth0 metric 1024 table 100"),
    ("ip -6 ro add 2001:db8::/32 dev eth0",
     "route 2001:db8::/32 dev eth0 metric 1024 table 254"),
    ("ip route add unicast 10.7.0.0/16 via 10.0.0.1 preference 7",
     "route 10.7.0.0/16 via 10.0.0.1 dev eth0 metric 7 table 254"),
    ("ip rule add from 10.0.0.5 table uplink priority 500",
     "rule priority 500 from 10.0.0.5/32 table 100 on eth0"),
    ("ip ru add from all fwmark 0x10/0xff lookup 100 pref 10 iif eth1",
     "rule priority 10 from all fwmark 0x10/0xff iif eth1 table 100 on eth0"),
    ("ip rule add to 192.0.2.0/24 oif eth2",
     "rule from all to 192.0.2.0/24 oif eth2 table 254 on eth0"),
    ("ip -6 rule add from 2001:db8::/64 table 100", "rule -6 from 2001:db8::/64 table 100 on eth0"),
    ("ip -f inet6 rule add table 100", "rule -6 from all table 100 on eth0"),
    # Keyword prefixes, by iproute2's matches() and in its order (issue 16).
    ("ip rule add from 10.1.1.5 lookup 100 prio 100",
     "rule priority 100 from 10.1.1.5/32 table 100 on eth0"),
    ("ip rule add from 10.1.1.5 tab 100 pref 7",
     "rule priority 7 from 10.1.1.5/32 table 100 on eth0"),
    ("ip rule add from 10.1.1.5 t 100 o 8 proto static",
     "rule priority 8 from 10.1.1.5/32 table 100 on eth0"),
    ("ip rule add from 10.1.1.5 table 100 type unicast",
     "rule from 10.1.1.5/32 table 100 on eth0"),
    ("ip route add 10.8.0.0/16 via 10.0.0.1 met 5 tab uplink",
     "route 10.8.0.0/16 via 10.0.0.1 dev eth0 metric 5 table 100"),
    ("ip route add 10.8.0.0/16 via 10.0.0.1 prio 6 prot boot",
     "route 10.8.0.0/16 via 10.0.0.1 dev eth0 metric 6 table 254"),
    ("ip route add to unicast 10.8.0.0/16 via 10.0.0.1 p 9",
     "route 10.8.0.0/16 via 10.0.0.1 dev eth0 metric 9 table 254"),
    ("ip addr add local 10.0.0.5/24 b + dev eth0", "address 10.0.0.5/24 dev eth0"),
    # IPv6 host bits are masked, as the kernel masks them (issue 16).
    ("ip -6 route add 9876::1234/96 via 2001:db8::1",
     "route 9876::/96 via 2001:db8::1 dev eth0 metric 1024 table 254"),
    # Not additions, or not ours: nothing, and no complaint.
    ("ip link set eth0 up", None),
    ("ip route del default via 10.0.0.1 table 100", None),
    ("ip addr flush dev eth0", None),
    ("ip -n other addr add 10.0.0.5/24 dev eth0", None),
    ("ip -f link addr add 10.0.0.5/24 dev eth0", None),
    ("ip addrlabel add prefix ::/0 label 1", None),
    ("ip neigh add 10.0.0.9 lladdr 00:11:22:33:44:55 dev eth0", None),
    ("ip", None),
])
def test_commands(text: str, expected: Optional[str]) -> None:
    assert command(text) == expected


@pytest.mark.parametrize("text, message", [
    ("ip addr add 10.0.0.5/24", "'dev' is required"),
    ("ip addr add dev eth0", "no address"),
    ("ip addr add 10.0.0.300/24 dev eth0", "'10.0.0.300/24' is not an IP address"),
    ("ip addr add 10.0.0.5/24 dev eth0 label eth1:0",
     "label 'eth1:0' must be 'eth0', or 'eth0:' followed by a suffix"),
    ("ip addr add 10.0.0.5/24 peer 10.0.0.6 dev eth0", "'peer' is not supported by nethook"),
    ("ip addr add 10.0.0.5/24 dev eth0 scope link", "scope 'link' is not supported by nethook"),
    ("ip addr add 10.0.0.5/24 dev eth0 valid_lft 300",
     "valid_lft '300' is not supported by nethook (it keeps permanent addresses)"),
    ("ip -6 addr add 10.0.0.5/24 dev eth0", "'10.0.0.5/24' is IPv4 but the command is IPv6"),
    ("ip -6 addr add fe80::5/64 dev eth0",
     "'fe80::5/64' is in fe80::/64, where the kernel makes its own link-local addresses; "
     "nethook does not keep them"),
    ("ip route add via 10.0.0.1", "no destination"),
    ("ip route add 10.8.0.0/16 via", "'via' needs a value"),
    ("ip route add 10.8.0.1/16 via 10.0.0.1",
     "'10.8.0.1/16' has host bits set (the network is 10.8.0.0/16)"),
    ("ip route add 10.8.0.0/16 via 2001:db8::1",
     "'2001:db8::1' is IPv6 but the command is IPv4"),
    ("ip route add 10.8.0.0/16 dev eth0 onlink", "'onlink' needs 'via'"),
    ("ip route add blackhole 10.8.0.0/16", "'blackhole' is not supported by nethook"),
    ("ip -6 route add 2001:db8::/32 via 2001:db8::1 pref high",
     "'pref' is not supported by nethook"),  # a route's pref is the router preference
    ("ip route add 10.8.0.0/16 via 10.0.0.1 real 7", "'real' is not supported by nethook"),
    ("ip rule add from 10.0.0.5 goto 100", "'goto' is not supported by nethook"),
    ("ip rule add from 10.0.0.5 type blackhole", "'blackhole' is not supported by nethook"),
    ("ip rule add from 10.0.0.5 look 100", "'look' is not an argument nethook knows here"),
    ("ip addr add 10.0.0.5/24 dev eth0 met 5", "'met' is not supported by nethook"),
    ("ip route add 10.8.0.0/16 via 10.0.0.1 via 10.0.0.2", "'via' is given twice"),
    ("ip route add 10.8.0.0/16 10.9.0.0/16",
     "'10.9.0.0/16' is not an argument nethook knows here"),
    ("ip route add 10.8.0.0/16 via 10.0.0.1 metric high", "metric 'high' is not a number"),
    ("ip route add 10.8.0.0/16 via 10.0.0.1 table 0",
     "table 0 is unspec, which cannot hold routes or rules"),
    ("ip route add 10.8.0.0/16 via 10.0.0.1 dev eth0/1",
     "'eth0/1' is not a valid interface name: it contains '/'"),
    ("ip rule add not from 10.0.0.5 table 100", "'not' is not supported by nethook"),
    ("ip rule add from 10.0.0.5 to 2001:db8::/32 table 100",
     "'2001:db8::/32' is IPv6 but the command is IPv4"),
    ("ip rule add fwmark 0 table 100",
     "mark '0' matches every packet; give a mask (0/0xff) or leave 'mark' out"),
    ("ip rule add from 10.0.0.5 table 100 priority 4294967296",
     "priority '4294967296' is out of range (0 to 4294967295)"),
    ("ip -batch /tmp/cmds", "ip option '-batch' is not supported by nethook"),
    ("ip -f", "'-f' needs a value"),
])
def test_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        command(text)
    assert str(caught.value) == message


ENV: Dict[str, str] = {"IFACE": "eth0:1", "IF_ADDRESS": "10.0.0.5/24"}


@pytest.mark.parametrize("text, expected", [
    ("ip addr add 10.0.0.5/24 dev eth0", [["ip", "addr", "add", "10.0.0.5/24", "dev", "eth0"]]),
    ("ip route add default via 10.0.0.1 table 100 || true",
     [["ip", "route", "add", "default", "via", "10.0.0.1", "table", "100"]]),
    ("ip addr add 10.0.0.6/24 dev $IFACE label ${IFACE} 2>/dev/null ||:",
     [["ip", "addr", "add", "10.0.0.6/24", "dev", "eth0:1", "label", "eth0:1"]]),
    ("ip route add 10.8.0.0/16 via 10.0.0.1 >/dev/null 2>&1; ip rule add from 10.0.0.5 table 7",
     [["ip", "route", "add", "10.8.0.0/16", "via", "10.0.0.1"],
      ["ip", "rule", "add", "from", "10.0.0.5", "table", "7"]]),
    ("sleep 1 && ip addr add \"$IF_ADDRESS\" dev eth0 # the service address",
     [["sleep", "1"], ["ip", "addr", "add", "10.0.0.5/24", "dev", "eth0"]]),
    ("echo '$IFACE is up' | logger", [["echo", "$IFACE is up"], ["logger"]]),
])
def test_shell_split(text: str, expected: List[List[str]]) -> None:
    assert shellcmd.split(text, ENV) == expected


@pytest.mark.parametrize("text, message", [
    ("ip addr add $ADDR dev eth0", "it uses $ADDR, which nethook does not evaluate"),
    ("ip addr add ${ADDR} dev eth0", "it uses ${ADDR}, which nethook does not evaluate"),
    ("ip addr add $(cat /etc/addr) dev eth0", "it uses $(, which nethook does not evaluate"),
    ("ip addr add `cat /etc/addr` dev eth0",
     "it uses command substitution, which nethook does not run"),
    ("ip route add default via 10.0.0.1 || ip route add default via 10.0.0.2",
     "'||' runs a command only when the one before fails; nethook cannot tell which one ran"),
    ("ip addr add 'unclosed dev eth0",
     "it cannot be split into words (No closing quotation)"),
])
def test_shell_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        shellcmd.split(text, ENV)
    assert str(caught.value) == message
