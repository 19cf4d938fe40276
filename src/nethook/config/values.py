"""Pure parsers for the values a configuration holds: addresses, prefixes, names, marks.

Each takes the text an administrator wrote and returns a normalised value, or raises
``ValueError`` whose message quotes that text; the YAML walker adds file, line and key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Optional, Tuple, Union

from nethook.model.objects import IFNAME_MAX, IPAddress, IPInterface, IPNetwork

U32_MAX = 2**32 - 1
DEFAULT_ROUTE = "default"
# Kernel scope names (rt_scope_t) by number; `ip route` prints these names.
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host"}
_NUMBER = re.compile(r"(?:0[xX][0-9a-fA-F]+|0|[1-9][0-9]*)\Z")


def _address(text: str) -> IPAddress:
    """An address without a prefix; no IPv6 zone (``%eth0``), which the kernel never gets."""
    if "%" not in text:
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            pass
    raise ValueError(f"'{text}' is not an IP address")


def _split(text: str) -> Tuple[IPAddress, Optional[int]]:
    """The address and prefix length of ``ADDR[/PREFIX]``; the prefix must be in range."""
    addr_text, slash, prefix_text = text.partition("/")
    try:
        addr = _address(addr_text)
    except ValueError:
        raise ValueError(f"'{text}' is not an IP address") from None
    if not slash:
        return addr, None
    limit = addr.max_prefixlen
    if not (prefix_text.isascii() and prefix_text.isdigit()) or int(prefix_text) > limit:
        raise ValueError(f"'{text}' has an invalid prefix length "
                         f"(IPv{addr.version} allows 0 to {limit})")
    return addr, int(prefix_text)


KERNEL_LINK_LOCAL = ipaddress.ip_network("fe80::/64")


def interface_address(text: str) -> IPInterface:
    """``ADDR/PREFIX`` for an address on an interface; the prefix length is required."""
    addr, prefix = _split(text)
    if prefix is None:
        raise ValueError(f"'{text}' has no prefix length")
    if addr.version == 6 and addr in KERNEL_LINK_LOCAL:
        raise ValueError(f"'{text}' is in fe80::/64, where the kernel makes its own "
                         "link-local addresses; nethook does not keep them")
    return ipaddress.ip_interface(f"{addr}/{prefix}")


def address(text: str) -> IPAddress:
    """A plain address (a gateway, a preferred source)."""
    if "/" in text:
        _split(text)  # a malformed one is reported as such first
        raise ValueError(f"'{text}' must be a plain address, without a prefix length")
    return _address(text)


def network(text: str, *, host_ok: bool) -> IPNetwork:
    """``ADDR/PREFIX`` with no host bits set; with ``host_ok`` a plain address is /32 or /128."""
    addr, prefix = _split(text)
    if prefix is None:
        if not host_ok:
            raise ValueError(f"'{text}' has no prefix length")
        prefix = addr.max_prefixlen
    net = ipaddress.ip_network(f"{addr}/{prefix}", strict=False)
    if net.network_address != addr:
        raise ValueError(f"'{text}' has host bits set (the network is {net.with_prefixlen})")
    return net


def route_destination(text: str, family: int) -> IPNetwork:
    """A route's ``to``: a network, or ``default`` in the given family."""
    if text == DEFAULT_ROUTE:
        return ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")
    return network(text, host_ok=False)


def ifname_problem(name: str) -> Optional[str]:
    """Why the kernel would refuse ``name`` as an interface name (dev_valid_name), if it would."""
    reason = None
    if not name:
        reason = "it is empty"
    elif len(name.encode()) > IFNAME_MAX:
        reason = f"it is longer than {IFNAME_MAX} characters"
    elif name in (".", ".."):
        reason = "'.' and '..' are reserved"
    elif "/" in name:
        reason = "it contains '/'"
    elif ":" in name:
        reason = "it contains ':' (an alias such as eth0:1 is a label on an eth0 address)"
    elif any(c.isspace() for c in name):
        reason = "it contains whitespace"
    return f"'{name}' is not a valid interface name: {reason}" if reason else None


def ifname(name: str) -> str:
    problem = ifname_problem(name)
    if problem:
        raise ValueError(problem)
    return name


def label_problem(label: str, device: str, family: int) -> Optional[str]:
    """Why ``label`` cannot name an address on ``device``: IPv4 only, ``DEV`` or ``DEV:x``."""
    if family != 4:
        return f"label '{label}' on an IPv6 address: labels are IPv4-only"
    if len(label.encode()) > IFNAME_MAX:
        return f"label '{label}' is longer than {IFNAME_MAX} characters"
    if label != device and not (label.startswith(device + ":") and len(label) > len(device) + 1):
        return f"label '{label}' must be '{device}', or '{device}:' followed by a suffix"
    return None


def _u32(text: str) -> Optional[int]:
    return int(text, 0) if _NUMBER.match(text) and int(text, 0) <= U32_MAX else None


def mark(value: Union[int, str]) -> Tuple[int, Optional[int]]:
    """A firewall mark ``MARK`` or ``MARK/MASK``; a full mask is no mask, as the kernel says."""
    text = str(value)
    mark_text, slash, mask_text = text.partition("/")
    fwmark = _u32(mark_text)
    fwmask = _u32(mask_text) if slash else None
    if fwmark is None or (slash and fwmask is None):
        raise ValueError(f"'{text}' is not a valid mark: write MARK or MARK/MASK, each a number "
                         f"from 0 to {U32_MAX}, decimal or 0x hex")
    if fwmask == U32_MAX:
        fwmask = None
    if fwmark == 0 and fwmask is None:
        raise ValueError(f"mark '{text}' matches every packet; give a mask (0/0xff) "
                         "or leave 'mark' out")
    return fwmark, fwmask


def scope(value: Union[int, str]) -> str:
    """A route scope name; numbers the kernel has a name for become that name."""
    if isinstance(value, int):
        if not 0 <= value <= 255:
            raise ValueError(f"scope {value} is out of range (0 to 255)")
        return SCOPES.get(value, str(value))
    if value not in SCOPES.values():
        raise ValueError(f"unknown scope '{value}' (use global, site, link, host "
                         "or a number from 0 to 255)")
    return value


def did_you_mean(value: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'X'?)`` for the closest choice, ignoring case; empty if none is close."""
    import difflib  # only an error message needs it

    lowered = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(value.lower(), list(lowered), n=1)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""
