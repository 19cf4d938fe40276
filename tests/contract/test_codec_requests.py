"""Every request nethook encodes is byte for byte what pyroute2 encodes (Debian 12's
0.7.2 in tox's debian12 env, the current release in py3): the operations of a plan, with
and without the acknowledgement, and the dump requests with their filters. No privilege
needed; the contract tests run the same requests against the kernel.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, Dict, List, Tuple

import pytest

from nethook.adapters import rtnl_codec as codec
from nethook.model.objects import Address, Route, Rule
from nethook.model.ops import RTPROT_NETHOOK, AddressOp, Op, RouteOp, RuleOp, Verb
from tests.contract.readers import pr_fibmsg, pr_ifaddrmsg, pr_ifinfmsg, pr_rtmsg


def pr_bytes(cls: Any, kind: int, flags: int, fields: Dict[str, int], attrs: List[Any]) -> bytes:
    msg = cls()
    msg["header"]["type"], msg["header"]["flags"] = kind, flags
    msg["header"]["sequence_number"] = 7
    for name, value in fields.items():
        msg[name] = value
    msg["attrs"] = attrs
    msg.encode()
    return bytes(msg.data)


def net(text: str) -> Any:
    return ipaddress.ip_network(text)


def ip(text: str) -> Any:
    return ipaddress.ip_address(text)


NEW = 0x1 | 0x4 | 0x400 | 0x200  # REQUEST | ACK | CREATE | EXCL
REPLACE = 0x1 | 0x4 | 0x400 | 0x100  # REQUEST | ACK | CREATE | REPLACE
DELETE = 0x1 | 0x4  # REQUEST | ACK
DUMP = 0x1 | 0x300  # REQUEST | DUMP
RULE = Rule(table=70000, priority=100, src=net("10.1.0.0/16"), dst=net("10.2.0.0/16"),
            fwmark=0x10, fwmask=0xFF, iif="eth0", oif="lo")
REQUESTS: List[Tuple[Op, Any, int, int, Dict[str, int], List[Any]]] = [
    (AddressOp(Verb.ADD, Address("eth0", ipaddress.ip_interface("192.0.2.20/24"), "eth0:nh")),
     pr_ifaddrmsg, 20, NEW, {"family": 2, "prefixlen": 24, "index": 3},
     [("IFA_LOCAL", "192.0.2.20"), ("IFA_ADDRESS", "192.0.2.20"), ("IFA_LABEL", "eth0:nh")]),
    (AddressOp(Verb.DELETE, Address("eth0", ipaddress.ip_interface("2001:db8::5/64"))),
     pr_ifaddrmsg, 21, DELETE, {"family": 10, "prefixlen": 64, "index": 3},
     [("IFA_LOCAL", "2001:db8::5"), ("IFA_ADDRESS", "2001:db8::5")]),
    (AddressOp(Verb.ADD, Address("lo", ipaddress.ip_interface("127.0.0.9/8"))),
     pr_ifaddrmsg, 20, NEW, {"family": 2, "prefixlen": 8, "scope": 254, "index": 3},
     [("IFA_LOCAL", "127.0.0.9"), ("IFA_ADDRESS", "127.0.0.9")]),
    (RouteOp(Verb.REPLACE, Route(net("2001:db8:1::/64"), table=1000, metric=100, ifname="eth0",
                                 gateway=ip("fe80::1"), src=ip("2001:db8::10"))),
     pr_rtmsg, 24, REPLACE, {"family": 10, "dst_len": 64, "proto": RTPROT_NETHOOK, "type": 1},
     [("RTA_TABLE", 1000), ("RTA_DST", "2001:db8:1::"), ("RTA_OIF", 3),
      ("RTA_GATEWAY", "fe80::1"), ("RTA_PREFSRC", "2001:db8::10"), ("RTA_PRIORITY", 100)]),
    (RouteOp(Verb.ADD, Route(net("0.0.0.0/0"), table=100, ifname="eth0",
                             gateway=ip("10.255.0.1"), onlink=True)),
     pr_rtmsg, 24, NEW, {"family": 2, "table": 100, "proto": RTPROT_NETHOOK, "type": 1,
                         "flags": codec.RTNH_F_ONLINK},
     [("RTA_TABLE", 100), ("RTA_OIF", 3), ("RTA_GATEWAY", "10.255.0.1")]),
    (RouteOp(Verb.ADD, Route(net("203.0.113.0/24"), table=254, ifname="eth0", scope="host")),
     pr_rtmsg, 24, NEW, {"family": 2, "dst_len": 24, "table": 254, "proto": RTPROT_NETHOOK,
                         "scope": 254, "type": 1},
     [("RTA_TABLE", 254), ("RTA_DST", "203.0.113.0"), ("RTA_OIF", 3)]),
    (RouteOp(Verb.DELETE, Route(net("198.51.100.0/24"), table=70000, ifname="eth0")),
     pr_rtmsg, 25, DELETE, {"family": 2, "dst_len": 24, "scope": 255, "type": 1},
     [("RTA_TABLE", 70000), ("RTA_DST", "198.51.100.0"), ("RTA_OIF", 3)]),
    (RuleOp(Verb.ADD, RULE), pr_fibmsg, 32, NEW,
     {"family": 2, "dst_len": 16, "src_len": 16, "action": 1},
     [("FRA_PRIORITY", 100), ("FRA_TABLE", 70000), ("FRA_SRC", "10.1.0.0"),
      ("FRA_DST", "10.2.0.0"), ("FRA_FWMARK", 0x10), ("FRA_FWMASK", 0xFF),
      ("FRA_IIFNAME", "eth0"), ("FRA_OIFNAME", "lo"), ("FRA_PROTOCOL", RTPROT_NETHOOK)]),
    (RuleOp(Verb.DELETE, Rule(table=200, family=6, priority=5, src=net("2001:db8::/32"))),
     pr_fibmsg, 33, DELETE, {"family": 10, "src_len": 32, "table": 200, "action": 1},
     [("FRA_PRIORITY", 5), ("FRA_TABLE", 200), ("FRA_SRC", "2001:db8::")]),
]


@pytest.mark.parametrize("op, cls, kind, flags, fields, attrs", REQUESTS,
                         ids=[op.describe() for op, *_rest in REQUESTS])
def test_requests_encode_like_pyroute2(op: Op, cls: Any, kind: int, flags: int,
                                       fields: Dict[str, int], attrs: List[Any]) -> None:
    index = None if isinstance(op, RuleOp) else 3
    assert codec.request(op, 7, index) == pr_bytes(cls, kind, flags, fields, attrs)
    assert codec.acked(codec.request(op, 7, index, ack=False)) == codec.request(op, 7, index)


def test_dump_requests_encode_like_pyroute2() -> None:
    assert codec.link_dump(7) == pr_bytes(pr_ifinfmsg, 18, DUMP, {},
                                          [("IFLA_EXT_MASK", codec.RTEXT_FILTER_SKIP_STATS)])
    assert codec.address_dump(7, index=3) == pr_bytes(pr_ifaddrmsg, 22, DUMP, {"index": 3}, [])
    unspec = {"family": socket.AF_UNSPEC}
    assert codec.route_dump(7, table=70000) == pr_bytes(pr_rtmsg, 26, DUMP, unspec,
                                                        [("RTA_TABLE", 70000)])
    assert codec.route_dump(7, table=100) == pr_bytes(pr_rtmsg, 26, DUMP,
                                                      {**unspec, "table": 100},
                                                      [("RTA_TABLE", 100)])
    assert codec.route_dump(7) == pr_bytes(pr_rtmsg, 26, DUMP, unspec, [])
    assert codec.rule_dump(7) == pr_bytes(pr_fibmsg, 34, DUMP, unspec, [])
