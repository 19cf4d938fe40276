"""The planner, table-driven: each case is (desired, observed) and the exact plan lines."""

from __future__ import annotations

import ipaddress

import pytest

from nethook.engine.plan import State, assess, default_rule_priority, plan
from nethook.model.objects import Address, Desired, Observed, Origin, Route, Rule
from nethook.model.ops import Verb


def addr(text: str, ifname: str = "eth0", label: str | None = None) -> Address:
    return Address(ifname, ipaddress.ip_interface(text), label)


def route(dst: str, table: int = 100, via: str | None = None, ifname: str = "eth0",
          **kw: object) -> Route:
    return Route(dst=ipaddress.ip_network(dst), table=table, ifname=ifname,
                 gateway=ipaddress.ip_address(via) if via else None, **kw)  # type: ignore[arg-type]


def rule(src: str | None, table: int, priority: int | None = 1000, **kw: object) -> Rule:
    return Rule(table=table, priority=priority,
                src=ipaddress.ip_network(src) if src else None, ifname="eth0",
                **kw)  # type: ignore[arg-type]


BASE_RULES = frozenset({Rule(table=255, priority=0), Rule(table=254, priority=32766),
                        Rule(table=253, priority=32767)})
LINKS = frozenset({"lo", "eth0"})

CASES = {
    "nothing declared, nothing to do": (Desired(), Observed(links=LINKS), []),
    "lost alias, rule and table route come back in make-before-break order": (
        Desired(addresses=frozenset({addr("10.77.0.50/24", label="eth0:0")}),
                routes=frozenset({route("0.0.0.0/0", via="10.77.0.1")}),
                rules=frozenset({rule("10.77.0.50/32", 100)})),
        Observed(links=LINKS, addresses=frozenset({addr("10.77.0.11/24")}), rules=BASE_RULES),
        ["ip -4 address add 10.77.0.50/24 dev eth0 label eth0:0",
         "ip -4 route add default via 10.77.0.1 dev eth0 table 100 proto 177",
         "ip -4 rule add priority 1000 from 10.77.0.50/32 table 100 protocol 177"]),
    "everything present: empty plan": (
        Desired(addresses=frozenset({addr("10.77.0.50/24")}),
                rules=frozenset({rule("10.77.0.50/32", 100)})),
        Observed(links=LINKS, addresses=frozenset({addr("10.77.0.50/24")}),
                 rules=BASE_RULES | {rule("10.77.0.50/32", 100)}),
        []),
    "a route whose gateway changed is replaced, not added": (
        Desired(routes=frozenset({route("0.0.0.0/0", via="10.77.0.1")})),
        Observed(links=LINKS, routes=frozenset({route("0.0.0.0/0", via="10.77.0.254")})),
        ["ip -4 route replace default via 10.77.0.1 dev eth0 table 100 proto 177"]),
    "unstated route attributes are the kernel's business": (
        Desired(routes=frozenset({route("10.4.0.0/24")})),
        Observed(links=LINKS, routes=frozenset({route("10.4.0.0/24", scope="link",
                                                      src=ipaddress.ip_address("10.4.0.5"))})),
        []),
    "missing interface is skipped, not planned": (
        Desired(addresses=frozenset({addr("10.0.0.9/24", ifname="eth9")})),
        Observed(links=LINKS), []),
    "rule without priority matches any priority": (
        Desired(rules=frozenset({rule("10.4.0.5/32", 100, priority=None)})),
        Observed(links=LINKS, rules=BASE_RULES | {rule("10.4.0.5/32", 100, priority=32765)}),
        []),
    "rule without priority gets the kernel's default when added": (
        Desired(rules=frozenset({rule("10.4.0.5/32", 100, priority=None)})),
        Observed(links=LINKS, rules=BASE_RULES),
        ["ip -4 rule add priority 32765 from 10.4.0.5/32 table 100 protocol 177"]),
    "IPv6 address and route": (
        Desired(addresses=frozenset({addr("2001:db8::50/64")}),
                routes=frozenset({route("::/0", via="2001:db8::1")})),
        Observed(links=LINKS),
        ["ip -6 address add 2001:db8::50/64 dev eth0",
         "ip -6 route add default via 2001:db8::1 dev eth0 table 100 proto 177"]),
}


@pytest.mark.parametrize("desired, observed, expected", CASES.values(), ids=list(CASES))
def test_plan(desired: Desired, observed: Observed, expected: list[str]) -> None:
    assert list(plan(desired, observed).describe()) == expected


def test_same_inputs_same_plan() -> None:
    desired = Desired(addresses=frozenset(addr(f"10.0.{i // 250}.{i % 250 + 1}/16")
                                          for i in range(300)))
    observed = Observed(links=LINKS)
    assert plan(desired, observed) == plan(desired, observed)
    ips = [op.describe().split()[4] for op in plan(desired, observed).ops]
    assert ips == sorted(ips, key=lambda t: ipaddress.ip_interface(t))


def test_skipped_names_the_interface() -> None:
    desired = Desired(addresses=frozenset({addr("10.0.0.9/24", ifname="eth9")}))
    result = plan(desired, Observed(links=LINKS))
    assert [s.reason for s in result.skipped] == ["interface eth9 does not exist"]


def test_prune_deletes_only_owned_leftovers_present_in_kernel() -> None:
    kept = addr("10.77.0.50/24")
    dropped = addr("10.77.0.51/24")
    gone = addr("10.77.0.52/24")
    foreign = addr("10.77.0.53/24")
    old_rule = rule("10.77.0.51/32", 100)
    observed = Observed(links=LINKS, addresses=frozenset({kept, dropped, foreign}),
                        rules=BASE_RULES | {old_rule})
    result = plan(Desired(addresses=frozenset({kept})), observed,
                  prune=[kept, dropped, gone, old_rule])
    assert list(result.describe()) == [
        "ip -4 rule del priority 1000 from 10.77.0.51/32 table 100",
        "ip -4 address del 10.77.0.51/24 dev eth0",
    ]
    assert all(op.verb is Verb.DELETE for op in result.ops)


def test_prune_leaves_a_route_someone_else_changed() -> None:
    ours = route("0.0.0.0/0", via="10.77.0.1")
    theirs = route("0.0.0.0/0", via="10.77.0.254")
    result = plan(Desired(), Observed(links=LINKS, routes=frozenset({theirs})), prune=[ours])
    assert result.ops == ()


def test_assess_reports_each_state_with_origin_kept() -> None:
    origin = Origin("/etc/nethook/nethook.yaml", 7)
    present = Address("eth0", ipaddress.ip_interface("10.0.0.5/24"), origin=origin)
    desired = Desired(addresses=frozenset({present, addr("10.0.0.6/24")}),
                      routes=frozenset({route("0.0.0.0/0", via="10.0.0.1")}))
    observed = Observed(links=LINKS, addresses=frozenset({addr("10.0.0.5/24")}),
                        routes=frozenset({route("0.0.0.0/0", via="10.0.0.2")}))
    states = {a.target.describe(): a.state for a in assess(desired, observed)}
    assert states == {"10.0.0.5/24 dev eth0": State.PRESENT,
                      "10.0.0.6/24 dev eth0": State.MISSING,
                      "default via 10.0.0.1 dev eth0 table 100": State.DIFFERENT}
    first = assess(desired, observed)[0]
    assert first.target.origin == origin


@pytest.mark.parametrize("priorities, expected", [
    ([0, 32766, 32767], 32765),
    ([0, 1000, 32766, 32767], 999),
    ([], 32765),
])
def test_default_rule_priority_mirrors_the_kernel(priorities: list[int], expected: int) -> None:
    observed = Observed(rules=frozenset(Rule(table=254, priority=p) for p in priorities))
    assert default_rule_priority(observed, 4) == expected
