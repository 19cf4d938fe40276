"""The arguments of ``ip address|route|rule add``, read into model objects (pure).

RHEL's ``route-IFACE`` and ``rule-IFACE`` files hold, one per line, what follows ``ip
route add`` and ``ip rule add``; Debian's ``up`` lines run whole ``ip`` commands. Both come
here. Only what nethook can restore exactly is accepted: an argument it cannot represent
(a route's ``mtu``, a rule's ``tos``, an address's ``nodad``) makes the whole command a
reported problem (``ValueError`` with the reason) rather than a different object.

Defaults follow ``ip`` itself: an address without a prefix length is a host address, a
route without ``dev`` goes through the interface whose file declared it, a rule without a
table looks up main, an IPv6 destination with host bits is masked (the kernel does it).
Abbreviations are read by iproute2's own rule (its ``matches()``: any leading part of a
keyword that allows it, tried in iproute2's order), for the object and the verb (``ip r
a``, ``ip ru add``) and for keywords (``prio``, ``tab``, ``met``, ``pref``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from contextlib import suppress
from typing import Dict, List, Optional, Tuple

from nethook.config import values
from nethook.config.rt_tables import RouteTables
from nethook.config.schema import IPV6_DEFAULT_METRIC
from nethook.model.objects import (
    MAIN_TABLE,
    Address,
    IPNetwork,
    KernelObject,
    Origin,
    Route,
    Rule,
)

IP_PROGRAMS = frozenset({"ip", "/sbin/ip", "/bin/ip", "/usr/sbin/ip", "/usr/bin/ip"})
DEFAULT_WORDS = frozenset({"default", "all", "any"})
# Display options change nothing about what a command adds.
_QUIET_OPTIONS = frozenset({"-s", "-stats", "-statistics", "-d", "-details", "-o", "-oneline",
                            "-r", "-resolve", "-c", "-color", "-j", "-json", "-p", "-pretty",
                            "-t", "-timestamp", "-h", "-human", "-a", "-all", "-br", "-brief"})
_FAMILIES = {"inet": 4, "inet6": 6}

# Each command's keywords in the order iproute2 tries them, as (keyword, prefix, field):
# with ``prefix`` any leading part of the keyword is that keyword, as iproute2's
# ``matches()`` allows (``prio``, ``tab``, ``met``); otherwise only the whole word is.
# The first entry that fits a word wins, so ``pref`` is a rule's priority but an IPv6
# route's router preference. ``field`` is what the value sets: "" when nethook accepts
# the keyword and ignores its value, UNSUPPORTED when nethook cannot keep what it adds,
# FLAG for a keyword without a value.
UNSUPPORTED = "!"
FLAG = "?"
POSITIONAL = "@"  # iproute2's last branch: the word that follows, or this word, is the object
Keywords = Tuple[Tuple[str, bool, str], ...]

_ADDRESS_KEYWORDS: Keywords = (
    ("peer", False, UNSUPPORTED), ("remote", False, UNSUPPORTED),
    ("broadcast", True, ""), ("brd", False, ""), ("anycast", False, UNSUPPORTED),
    ("scope", False, "scope"), ("dev", False, "dev"), ("label", False, "label"),
    ("metric", True, UNSUPPORTED), ("priority", True, UNSUPPORTED),
    ("preference", True, UNSUPPORTED),
    ("valid_lft", True, "valid_lft"), ("preferred_lft", True, "preferred_lft"),
    *((flag, False, UNSUPPORTED) for flag in (
        "home", "nodad", "mngtmpaddr", "noprefixroute", "autojoin", "optimistic")),
    ("proto", False, ""), ("protocol", False, ""), ("local", False, POSITIONAL),
)
_ROUTE_KEYWORDS: Keywords = (
    ("src", False, "src"), ("as", False, UNSUPPORTED), ("via", False, "via"),
    ("from", False, UNSUPPORTED), ("tos", False, UNSUPPORTED), ("dsfield", True, UNSUPPORTED),
    ("expires", False, UNSUPPORTED),
    ("metric", True, "metric"), ("priority", True, "metric"), ("preference", False, "metric"),
    ("scope", False, "scope"),
    *((word, False, UNSUPPORTED) for word in ("mtu", "hoplimit", "advmss")),
    ("reordering", True, UNSUPPORTED), ("rtt", False, UNSUPPORTED),
    ("rto_min", False, UNSUPPORTED),
    *((word, True, UNSUPPORTED) for word in (
        "window", "cwnd", "initcwnd", "initrwnd", "features", "quickack", "congctl",
        "rttvar", "ssthresh", "realms")),
    ("onlink", False, FLAG), ("nexthop", False, UNSUPPORTED), ("nhid", False, UNSUPPORTED),
    ("protocol", True, ""), ("table", True, "table"), ("vrf", True, UNSUPPORTED),
    ("dev", False, "dev"), ("oif", False, "dev"), ("pref", True, UNSUPPORTED),
    ("encap", False, UNSUPPORTED), ("ttl-propagate", False, UNSUPPORTED),
    ("fastopen_no_cookie", True, UNSUPPORTED), ("to", False, POSITIONAL),
)
_RULE_KEYWORDS: Keywords = (
    ("not", False, UNSUPPORTED), ("from", False, "from"), ("to", False, "to"),
    ("preference", True, "priority"), ("order", True, "priority"),
    ("priority", True, "priority"),
    ("tos", False, UNSUPPORTED), ("dsfield", True, UNSUPPORTED), ("fwmark", False, "fwmark"),
    ("realms", True, UNSUPPORTED), ("protocol", True, ""),
    ("table", True, "table"), ("lookup", False, "table"),
    ("suppress_prefixlength", True, UNSUPPORTED), ("sup_pl", False, UNSUPPORTED),
    ("suppress_ifgroup", True, UNSUPPORTED), ("sup_group", False, UNSUPPORTED),
    ("dev", False, "iif"), ("iif", False, "iif"), ("oif", False, "oif"),
    *((word, False, UNSUPPORTED) for word in (
        "l3mdev", "uidrange", "nat", "ipproto", "sport", "dport", "dscp", "flowlabel")),
    ("map-to", True, UNSUPPORTED), ("type", False, POSITIONAL),
)
# Route and rule types (rtnl_rtntype_a2n); only unicast is a route or rule nethook keeps.
_TYPES = frozenset({"unicast", "local", "broadcast", "anycast", "multicast", "blackhole",
                    "unreachable", "prohibit", "throw", "nat", "xresolve"})
_RULE_ACTIONS = ("goto", "nop")


Fields = Dict[str, str]


def keyword(word: str, keywords: Keywords) -> Optional[Tuple[str, str]]:
    """The keyword ``word`` stands for and the field it sets, by iproute2's rule."""
    for name, prefix, field in keywords:
        if word == name or (prefix and word and name.startswith(word)):
            return name, field
    return None


class _Words:
    """One command's arguments, consumed left to right."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = list(words)
        self.pos = 0

    def __bool__(self) -> bool:
        return self.pos < len(self.words)

    def next(self) -> str:
        word = self.words[self.pos]
        self.pos += 1
        return word

    def value(self, keyword: str) -> str:
        if not self:
            raise ValueError(f"'{keyword}' needs a value")
        return self.next()


def _last(word: str, explicit: bool, words: _Words, found: Fields, positional: str) -> None:
    """iproute2's last branch: ``[to|local] [TYPE] ADDRESS`` (route, address) or
    ``[type] TYPE|goto|nop`` (rule, no ``positional``)."""
    if explicit:
        word = words.value(word)
    if word in _TYPES and (positional != "address"):
        if word != "unicast":
            raise ValueError(f"'{word}' is not supported by nethook")
        if not positional:
            return
        word = words.value(word)
    if not positional:
        if any(word and action.startswith(word) for action in _RULE_ACTIONS):
            raise ValueError(f"'{word}' is not supported by nethook")
        raise ValueError(f"'{word}' is not an argument nethook knows here")
    if positional in found:
        raise ValueError(f"'{word}' is not an argument nethook knows here")
    found[positional] = word


def _fields(args: Sequence[str], keywords: Keywords, positional: str = "") -> Fields:
    """Keyword arguments by field; the rest as iproute2's last branch reads it."""
    words = _Words(args)
    found: Fields = {}
    while words:
        word = words.next()
        known = keyword(word, keywords)
        if known is None or known[1] == POSITIONAL:
            _last(word, known is not None, words, found, positional)
            continue
        name, field = known
        if field == UNSUPPORTED:
            raise ValueError(f"'{word}' is not supported by nethook")
        if field == FLAG:
            value, field = "yes", name
        else:
            value = words.value(word)
            if name == "via" and value in _FAMILIES:
                value = words.value(word)  # `via inet6 ADDR`
        if field in found:
            raise ValueError(f"'{word}' is given twice")
        if field:
            found[field] = value
    return found


def _u32(text: str, what: str) -> int:
    try:
        number = int(text, 16) if text[:2].lower() == "0x" else int(text, 10)
    except ValueError:
        raise ValueError(f"{what} '{text}' is not a number") from None
    if not 0 <= number <= values.U32_MAX:
        raise ValueError(f"{what} '{text}' is out of range (0 to {values.U32_MAX})")
    return number


def _family(explicit: Optional[int], found: Sequence[Tuple[str, int]]) -> int:
    """The command's family: ``-4``/``-6`` (or the file type), else its first address."""
    family = explicit if explicit is not None else (found[0][1] if found else 4)
    for text, version in found:
        if version != family:
            raise ValueError(f"'{text}' is IPv{version} but the command is IPv{family}")
    return family


def _device(name: str) -> str:
    """``dev eth0:1`` means eth0 to ``ip`` (the kernel drops the alias part)."""
    return values.ifname(name.split(":", 1)[0])


def address_from_args(args: Sequence[str], *, family: Optional[int],
                      origin: Origin) -> Address:
    """``ip address add`` arguments: ``ADDR[/PREFIX] dev DEV [label LABEL] ...``."""
    found = _fields(args, _ADDRESS_KEYWORDS, positional="address")
    if "address" not in found:
        raise ValueError("no address")
    if "dev" not in found:
        raise ValueError("'dev' is required")
    text = found["address"]
    if "/" not in text:
        text = f"{text}/{values.address(text).max_prefixlen}"  # what `ip` does
    interface = values.interface_address(text)
    _family(family, [(found["address"], interface.version)])
    if found.get("scope", "global") not in ("global", "0"):
        raise ValueError(f"scope '{found['scope']}' is not supported by nethook")
    for lifetime in ("valid_lft", "preferred_lft"):
        if found.get(lifetime, "forever") != "forever":
            raise ValueError(f"{lifetime} '{found[lifetime]}' is not supported by nethook "
                             "(it keeps permanent addresses)")
    ifname = _device(found["dev"])
    label = found.get("label")
    label = None if label == ifname else label  # what the kernel reports for no label
    problem = values.label_problem(label, ifname, interface.version) if label else None
    if problem:
        raise ValueError(problem)
    return Address(ifname, interface, label, origin=origin)


def destination(text: str) -> IPNetwork:
    """A route's destination as ``ip route add`` takes it: a plain address is a host route;
    an IPv6 prefix with host bits is masked, as the kernel does; an IPv4 one is an error,
    for ``ip`` too."""
    if ":" in text and "/" in text:
        with suppress(ValueError):  # values.network says what is wrong with it
            text = ipaddress.ip_network(text, strict=False).with_prefixlen
    return values.network(text, host_ok=True)


def route_from_args(args: Sequence[str], *, family: Optional[int], ifname: str,
                    tables: RouteTables, origin: Origin) -> Route:
    """``ip route add`` arguments; without ``dev`` the route goes through ``ifname``."""
    found = _fields(args, _ROUTE_KEYWORDS, "to")
    if "to" not in found:
        raise ValueError("no destination")
    via = values.address(found["via"]) if "via" in found else None
    src = values.address(found["src"]) if "src" in found else None
    to = found["to"]
    dst_net = None if to in DEFAULT_WORDS else destination(to)
    versions = [(found[k], a.version) for k, a in (("via", via), ("src", src)) if a is not None]
    if dst_net is not None:
        versions.insert(0, (to, dst_net.version))
    version = _family(family, versions)
    dst = dst_net if dst_net is not None else values.route_destination("default", version)
    if "onlink" in found and via is None:
        raise ValueError("'onlink' needs 'via'")
    metric = _u32(found["metric"], "metric") if "metric" in found else 0
    scope = found.get("scope")
    return Route(
        dst=dst,
        table=tables.resolve(found["table"]) if "table" in found else MAIN_TABLE,
        metric=IPV6_DEFAULT_METRIC if version == 6 and metric == 0 else metric,
        ifname=_device(found["dev"]) if "dev" in found else values.ifname(ifname),
        gateway=via,
        src=src,
        scope=values.scope(int(scope) if scope.isdigit() else scope) if scope else None,
        onlink="onlink" in found,
        origin=origin,
    )


def _selector(found: Fields, key: str) -> Optional[IPNetwork]:
    text = found.get(key)
    if text is None or text in DEFAULT_WORDS:
        return None
    return values.network(text, host_ok=True)


def rule_from_args(args: Sequence[str], *, family: Optional[int], ifname: str,
                   tables: RouteTables, origin: Origin) -> Rule:
    """``ip rule add`` arguments; the rule is restored with ``ifname``'s state."""
    found = _fields(args, _RULE_KEYWORDS)
    src, dst = _selector(found, "from"), _selector(found, "to")
    version = _family(family, [(found[k], n.version) for k, n in (("from", src), ("to", dst))
                               if n is not None])
    fwmark, fwmask = values.mark(found["fwmark"]) if "fwmark" in found else (None, None)
    return Rule(
        table=tables.resolve(found["table"]) if "table" in found else MAIN_TABLE,
        family=version,
        priority=_u32(found["priority"], "priority") if "priority" in found else None,
        src=src if src is not None and src.prefixlen else None,
        dst=dst if dst is not None and dst.prefixlen else None,
        fwmark=fwmark,
        fwmask=fwmask,
        iif=values.ifname(found["iif"]) if "iif" in found else None,
        oif=values.ifname(found["oif"]) if "oif" in found else None,
        ifname=values.ifname(ifname),
        origin=origin,
    )


def _kind(word: str) -> Optional[str]:
    """The object an ``ip`` command names, with the abbreviations ``ip`` itself accepts."""
    if word and "address".startswith(word):
        return "address"
    if word and "route".startswith(word):
        return "route"
    if len(word) >= 2 and "rule".startswith(word):
        return "rule"
    return None


def _adds(verb: str) -> bool:
    return bool(verb) and ("add".startswith(verb) or verb in ("replace", "append", "prepend"))


def _options(words: List[str]) -> Tuple[Optional[int], bool]:
    """Consume ``ip``'s own options; returns the family and whether the command is ours."""
    family: Optional[int] = None
    while words and words[0].startswith("-"):
        option = words.pop(0)
        if option in ("-4", "-6"):
            family = int(option[1])
        elif option in ("-f", "-family"):
            if not words:
                raise ValueError(f"'{option}' needs a value")
            name = words.pop(0)
            if name not in _FAMILIES:
                return None, False  # link, bridge, mpls: nothing nethook keeps
            family = _FAMILIES[name]
        elif option in ("-n", "-netns"):
            return None, False  # another network namespace
        elif option not in _QUIET_OPTIONS:
            raise ValueError(f"ip option '{option}' is not supported by nethook")
    return family, True


def from_command(argv: Sequence[str], *, ifname: str, tables: RouteTables,
                 origin: Origin) -> Optional[KernelObject]:
    """What one ``ip`` command adds; None when it adds nothing nethook keeps.

    ``ifname`` is the interface the command was written for (routes without ``dev`` and
    rules belong to it). ValueError says why an adding command cannot be kept.
    """
    words = list(argv[1:])
    family, ours = _options(words)
    if not ours or len(words) < 2 or not _adds(words[1]):
        return None
    kind, args = _kind(words[0]), words[2:]
    if kind == "address":
        return address_from_args(args, family=family, origin=origin)
    if kind == "route":
        return route_from_args(args, family=family, ifname=ifname, tables=tables, origin=origin)
    if kind == "rule":
        return rule_from_args(args, family=family, ifname=ifname, tables=tables, origin=origin)
    return None
