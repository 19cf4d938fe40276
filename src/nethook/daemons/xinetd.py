"""xinetd: which services are bound to which address, read from its configuration.

xinetd binds each service to the address of its ``bind =`` (synonym ``interface =``) line,
or the ``defaults`` section's, once, when it starts or reconfigures. A bound socket survives
its alias going away, but a service whose address was missing when xinetd (re)started
could not bind and stays deaf: reloading xinetd (SIGHUP: reconfigure) after the alias is
back binds it. The configuration is ``/etc/xinetd.conf`` (or the running daemon's ``-f``)
with its ``include FILE`` and ``includedir DIR`` entries, read as xinetd 2.3.15 reads them
(checked with the real one, tests/e2e/test_services_semantics.py):

* ``includefile`` is not xinetd's word: xinetd rejects the line, and like any line it
  rejects at the top level it skips the entry that follows it too;
* a relative path is opened from xinetd's working directory, not the including file's:
  that is ``/`` for a daemon its unit or init script started;
* ``includedir`` skips names that contain a dot or end with ``~``;
* ``defaults``' ``bind`` (or ``interface``) applies to the services without their own;
  ``disabled`` and ``enabled`` there list service ids (``id =``, else the name);
* without its configuration file xinetd does not start, so nothing else is read.

The protocol is ``protocol =``, else TCP for ``socket_type = stream`` and UDP for
``dgram``; the port is ``port =``, else the service's name in ``/etc/services``. A
service bound to the wildcard (``0.0.0.0``, ``::``) depends on no address.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from nethook.config.services import ListenerSpec
from nethook.daemons import COMMS
from nethook.daemons.conffile import IncludingLoader, Reader
from nethook.model.objects import IPAddress, Origin

COMM = COMMS["xinetd"]
DEFAULT_CONFIG = "/etc/xinetd.conf"
PIDFILES = ("/run/xinetd.pid", "/var/run/xinetd.pid")
WORKING_DIRECTORY = "/"
SERVICES_FILE = "/etc/services"
UNITS = ("xinetd.service",)
INIT_SCRIPTS = ("xinetd",)
MAX_INCLUDE_DEPTH = 5
_SOCKET_TYPES = {"stream": "tcp", "dgram": "udp"}

Lister = Callable[[str], List[str]]  # a directory to its entry names; [] when absent


@dataclass
class _Section:
    kind: str  # "defaults" or "service"
    name: str
    origin: Origin
    attrs: Dict[str, List[str]] = field(default_factory=dict)
    lines: Dict[str, Tuple[Origin, str]] = field(default_factory=dict)  # where each was set

    def first(self, *names: str) -> Optional[str]:
        for name in names:
            if self.attrs.get(name):
                return self.attrs[name][0]
        return None


@dataclass(frozen=True)
class BoundService:
    """An enabled xinetd service bound to one address."""

    name: str
    listener: ListenerSpec  # port 0 when it cannot be told (then it is not checked live)
    origin: Origin
    bind: Tuple[Origin, str] = field(default=(Origin(""), ""), compare=False)  # its line

    @property
    def address(self) -> IPAddress:
        return self.listener.address


@dataclass(frozen=True)
class XinetdSetup:
    services: Tuple[BoundService, ...] = ()
    files: Tuple[str, ...] = ()
    problems: Tuple[str, ...] = ()
    unreadable: Optional[str] = None

    def bound_to(self, addresses: Sequence[IPAddress]) -> List[BoundService]:
        """The services on ``addresses`` whose socket can be told (protocol and port)."""
        return [s for s in self.services
                if s.listener.address in addresses and s.listener.port]


def load(path: str, read: Reader, listing: Lister, ports: Optional[str]) -> XinetdSetup:
    """xinetd.conf and its includes; ``ports`` is the text of /etc/services (None: absent)."""
    loader = _Loader(read, listing)
    loader.file(path, 0)
    by_name = port_table(ports or "")
    defaults = next((s for s in loader.sections if s.kind == "defaults"), None)
    services: List[BoundService] = []
    for section in loader.sections:
        if section.kind == "service":
            bound = _bound(section, defaults, by_name, loader.problems)
            if bound is not None:
                services.append(bound)
    return XinetdSetup(tuple(services), tuple(loader.files), tuple(loader.problems),
                       loader.unreadable)


def port_table(text: str) -> Dict[Tuple[str, str], int]:
    """``/etc/services``: (name or alias, protocol) -> port."""
    table: Dict[Tuple[str, str], int] = {}
    for line in text.splitlines():
        words = line.partition("#")[0].split()
        if len(words) < 2 or "/" not in words[1]:
            continue
        port, _, proto = words[1].partition("/")
        if port.isdigit():
            for name in (words[0], *words[2:]):
                table.setdefault((name, proto), int(port))
    return table


def _enabled(section: _Section, service_id: str, defaults: Optional[_Section]) -> bool:
    if (section.first("disable") or "no").lower() == "yes":
        return False
    if defaults is None:
        return True
    if "enabled" in defaults.attrs and service_id not in defaults.attrs["enabled"]:
        return False
    return service_id not in defaults.attrs.get("disabled", [])


def _bound(section: _Section, defaults: Optional[_Section],
           ports: Dict[Tuple[str, str], int], problems: List[str]) -> Optional[BoundService]:
    """The service's listener if it is enabled and bound to an address; else None."""
    service_id = section.first("id") or section.name
    holder = section if section.first("bind", "interface") else defaults
    bind = holder.first("bind", "interface") if holder else None
    if holder is None or bind is None or not _enabled(section, service_id, defaults):
        return None
    where = f"{section.origin}: service {section.name}"
    try:
        address = ipaddress.ip_address(bind)
    except ValueError:
        problems.append(f"{where}: bind = {bind}: not an IP address; not checked")
        return None
    if address.is_unspecified:
        return None
    socket_type = (section.first("socket_type") or "").lower()
    proto = (section.first("protocol") or _SOCKET_TYPES.get(socket_type, "")).lower()
    if proto not in ("tcp", "udp"):
        problems.append(f"{where}: no tcp or udp protocol (socket_type {socket_type or '?'})")
        return None
    port_text = section.first("port")
    port = int(port_text) if port_text and port_text.isdigit() else ports.get(
        (section.name, proto))
    if port is None or not 0 < port < 65536:
        problems.append(f"{where}: no port (neither 'port =' nor {section.name}/{proto} in "
                        f"{SERVICES_FILE}); its socket is not checked")
        port = 0
    line = holder.lines.get("bind") or holder.lines.get("interface") or (holder.origin, "")
    return BoundService(section.name, ListenerSpec(proto, port, address), section.origin, line)


class _Loader(IncludingLoader):
    def __init__(self, read: Reader, listing: Lister) -> None:
        super().__init__(read)
        self.listing = listing
        self.sections: List[_Section] = []
        self.rejected: Optional[Origin] = None  # the top-level line just rejected

    def parse(self, text: str, path: str, depth: int) -> None:
        current: Optional[_Section] = None
        opened = False
        rejected: Optional[Origin] = None  # xinetd then skips the next entry too
        for number, raw in enumerate(text.splitlines(), start=1):
            words = raw.partition("#")[0].split()
            if not words:
                continue
            origin = Origin(path, number)
            if current is None:
                self.rejected = None
                current, opened = self.top_level(words, origin, depth), False
                rejected = self.rejected or rejected
                if current is not None and words[-1] == "{":
                    opened = True
            elif not opened:
                opened = words == ["{"] or self.misplaced(
                    origin, f"'{' '.join(words)}': expected '{{' after {current.kind} "
                            f"{current.name}")
            elif words == ["}"]:
                if rejected is None:
                    self.sections.append(current)
                else:
                    self.problems.append(f"{current.origin}: {current.kind} {current.name}: "
                                         "skipped, as xinetd skips the entry after a line it "
                                         f"rejects ({rejected})")
                    rejected = None
                current = None
            else:
                self.attribute(current, words, origin, raw.strip())
        if current is not None:
            self.problems.append(f"{current.origin}: {current.kind} {current.name}: no "
                                 "closing '}'; ignored")

    def top_level(self, words: List[str], origin: Origin, depth: int) -> Optional[_Section]:
        keyword, args = words[0], [w for w in words[1:] if w != "{"]
        if keyword == "defaults":
            return _Section("defaults", "defaults", origin)
        if keyword == "service" and len(args) == 1:
            return _Section("service", args[0], origin)
        if keyword == "includefile":
            self.rejected = origin
            self.misplaced(origin, "'includefile' is not an xinetd directive (xinetd rejects "
                                   "it; its word is 'include')")
            return None
        if keyword in ("include", "includedir") and len(args) == 1:
            if depth >= MAX_INCLUDE_DEPTH:
                self.problems.append(f"{origin}: {keyword} nested too deep; not followed")
            elif keyword == "include":
                self.file(_joined(args[0]), depth + 1)
            else:
                directory = _joined(args[0])
                for name in sorted(self.listing(directory)):
                    if "." not in name and not name.endswith("~"):
                        self.file(os.path.join(directory, name), depth + 1)
            return None
        self.rejected = origin
        self.misplaced(origin, f"'{' '.join(words)}' not understood here")
        return None

    def misplaced(self, origin: Origin, what: str) -> bool:
        self.problems.append(f"{origin}: {what}; skipped")
        return False

    def attribute(self, section: _Section, words: List[str], origin: Origin,
                  line: str) -> None:
        if len(words) < 2 or words[1] not in ("=", "+=", "-="):
            self.misplaced(origin, f"'{' '.join(words)}': expected NAME = VALUE")
            return
        name, operator, values = words[0].lower(), words[1], words[2:]
        section.lines[name] = (origin, line)
        if operator == "=":
            section.attrs[name] = values
        elif operator == "+=":
            section.attrs.setdefault(name, []).extend(values)
        else:
            section.attrs[name] = [v for v in section.attrs.get(name, []) if v not in values]


def _joined(path: str) -> str:
    """A path as xinetd opens it: relative to its working directory."""
    return os.path.join(WORKING_DIRECTORY, path)
