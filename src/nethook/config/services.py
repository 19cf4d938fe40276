"""The ``services:`` section of nethook.yaml, read node by node like the rest of the file.

::

    services:
      rate-limit: 60            # seconds: at most one remedy per service in that time (0: none)
      ntpd:                     # on by default (checked whenever an ntpd runs); false: off
        wait: 5                 # seconds for ntpd's own rescan before nethook acts
        config: /etc/ntp.conf   # default: the running ntpd's -c, else the distro's path
        unit: ntpsec.service    # default: the unit running ntpd, else the first one present
      chrony: true              # off unless given: true, or a mapping like ntpd's
      xinetd: {wait: 1}         # off unless given
      units:                    # any other service: a unit and the listeners it must have
        - unit: nginx.service
          listen: [tcp/443@203.0.113.10, tcp/443@2001:db8::10]
          action: restart       # or reload (systemd's ReloadOrTryRestartUnit)

Files merge like the rest: a later file's ``rate-limit`` and its ``ntpd``, ``chrony`` and
``xinetd`` entries replace an earlier file's; ``units`` lists concatenate, and naming one
unit twice is an error that names both places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from nethook.base.errors import ConfigError
from nethook.config import values
from nethook.model.objects import IPAddress, Origin

if TYPE_CHECKING:  # the settings are read from YAML (PyYAML) only when a file is read
    from nethook.config.nodes import Value

SECTION_KEYS = ("rate-limit", "ntpd", "chrony", "xinetd", "units")
DAEMONS = ("ntpd", "chrony", "xinetd")
DAEMON_KEYS = ("wait", "config", "unit")
UNIT_KEYS = ("unit", "listen", "wait", "action")
PROTOCOLS = ("tcp", "udp")
ACTIONS = ("restart", "reload")
DEFAULT_RATE_LIMIT = 60
RATE_LIMIT_MAX = 86400
WAIT_MAX = 60
# ntpd rescans 2 s after the last address event, on a 1 s timer: 1.3-3 s measured.
DEFAULT_WAIT = {"ntpd": 5, "chrony": 2, "xinetd": 2, "unit": 5}
PORT_MAX = 65535
_LISTENER = re.compile(r"([^/@]*)/([^/@]*)@(.*)\Z")
_UNIT_NAME = re.compile(r"[A-Za-z0-9:_.\\@-]{1,255}\Z")
_UNIT_TYPES = ("service", "socket", "target", "device", "mount", "automount", "swap",
               "timer", "path", "slice", "scope")


@dataclass(frozen=True)
class ListenerSpec:
    """One socket a service must have: ``tcp/443@192.0.2.10``."""

    proto: str
    port: int
    address: IPAddress

    def describe(self) -> str:
        return f"{self.proto}/{self.port}@{self.address}"


@dataclass(frozen=True)
class DaemonSettings:
    """ntpd, chrony or xinetd: whether nethook watches it, and how."""

    enabled: bool
    wait: int
    config: Optional[str] = None  # an absolute path, read under the run's root
    unit: Optional[str] = None


@dataclass(frozen=True)
class UnitSettings:
    """A service named by its unit, with the listeners it must have."""

    unit: str
    listen: Tuple[ListenerSpec, ...]
    wait: int = DEFAULT_WAIT["unit"]
    action: str = "restart"
    origin: Optional[Origin] = field(default=None, compare=False)


def _default(name: str, enabled: bool) -> DaemonSettings:
    return DaemonSettings(enabled, DEFAULT_WAIT[name])


@dataclass(frozen=True)
class ServicesConfig:
    """The merged ``services:`` section. The defaults watch ntpd only, when it runs."""

    rate_limit: int = DEFAULT_RATE_LIMIT
    ntpd: DaemonSettings = field(default_factory=lambda: _default("ntpd", True))
    chrony: DaemonSettings = field(default_factory=lambda: _default("chrony", False))
    xinetd: DaemonSettings = field(default_factory=lambda: _default("xinetd", False))
    units: Tuple[UnitSettings, ...] = ()

    def daemon(self, name: str) -> DaemonSettings:
        settings: DaemonSettings = getattr(self, name)
        return settings

    def watched(self) -> Tuple[str, ...]:
        """The daemons (of ``DAEMONS``) this section watches."""
        return tuple(name for name in DAEMONS if self.daemon(name).enabled)


@dataclass
class ServicesFile:
    """What one file's ``services:`` says; None: not set there."""

    rate_limit: Optional[int] = None
    daemons: Dict[str, DaemonSettings] = field(default_factory=dict)
    units: List[Tuple[UnitSettings, str]] = field(default_factory=list)  # with key paths


def read(value: Value) -> ServicesFile:
    """The ``services:`` mapping of one file (an empty value sets nothing)."""
    fields = value.mapping(SECTION_KEYS)
    out = ServicesFile()
    if "rate-limit" in fields:
        out.rate_limit = fields["rate-limit"].integer(0, RATE_LIMIT_MAX)
    for name in DAEMONS:
        if name in fields:
            out.daemons[name] = _daemon(fields[name], name)
    for item in fields["units"].sequence() if "units" in fields else ():
        out.units.append((_unit(item), item.path))
    return out


def _daemon(value: Value, name: str) -> DaemonSettings:
    """``true``/``false``, or a mapping (which turns it on) of wait, config and unit."""
    import yaml

    from nethook.config.nodes import TAG_BOOL, describe

    node = value.node
    if node.tag == TAG_BOOL:
        return _default(name, value.boolean())
    if not (value.is_null() or isinstance(node, yaml.MappingNode)):
        raise value.error(f"expected true, false or a mapping with {', '.join(DAEMON_KEYS)}, "
                          f"got {describe(node)}")
    fields = value.mapping(DAEMON_KEYS)
    return DaemonSettings(
        enabled=True,
        wait=fields["wait"].integer(0, WAIT_MAX) if "wait" in fields else DEFAULT_WAIT[name],
        config=fields["config"].parse(absolute_path) if "config" in fields else None,
        unit=fields["unit"].parse(unit_name) if "unit" in fields else None)


def _unit(item: Value) -> UnitSettings:
    fields = item.mapping(UNIT_KEYS, {"unit": " (such as nginx.service)",
                                      "listen": " (a list such as [tcp/443@192.0.2.10])"})
    listen = tuple(entry.parse(listener) for entry in fields["listen"].sequence())
    if not listen:
        raise fields["listen"].error("expected at least one listener, such as "
                                     "tcp/443@192.0.2.10")
    action = fields["action"].string() if "action" in fields else "restart"
    if action not in ACTIONS:
        raise fields["action"].error(f"expected restart or reload, got '{action}'"
                                     f"{values.did_you_mean(action, ACTIONS)}")
    return UnitSettings(
        unit=fields["unit"].parse(unit_name), listen=listen,
        wait=fields["wait"].integer(0, WAIT_MAX) if "wait" in fields else DEFAULT_WAIT["unit"],
        action=action, origin=Origin(item.source, item.line))


def listener(text: str) -> ListenerSpec:
    """``PROTO/PORT@ADDRESS``; the address is a plain IPv4 or IPv6 address, not a wildcard."""
    found = _LISTENER.match(text)
    if found is None:
        raise ValueError(f"'{text}' is not a listener: write PROTO/PORT@ADDRESS, such as "
                         "tcp/443@192.0.2.10")
    proto, port_text, address_text = found.groups()
    if proto not in PROTOCOLS:
        raise ValueError(f"'{text}': unknown protocol '{proto}'; known: {', '.join(PROTOCOLS)}")
    leading_zero = len(port_text) > 1 and port_text.startswith("0")
    if not (port_text.isascii() and port_text.isdigit()) or leading_zero:
        raise ValueError(f"'{text}': '{port_text}' is not a port number")
    port = int(port_text)
    if not 1 <= port <= PORT_MAX:
        raise ValueError(f"'{text}': port {port} is out of range (1 to {PORT_MAX})")
    try:
        address = values.address(address_text.strip("[]"))
    except ValueError as exc:
        raise ValueError(f"'{text}': {exc}") from None
    if address.is_unspecified:
        raise ValueError(f"'{text}': a wildcard listener does not depend on any address; "
                         "name the address the service must listen on")
    return ListenerSpec(proto, port, address)


def unit_name(text: str) -> str:
    """A systemd service name; without a type suffix ``.service`` is added, as systemctl does."""
    if not _UNIT_NAME.match(text):
        raise ValueError(f"'{text}' is not a unit name")
    suffix = text.rpartition(".")[2] if "." in text else ""
    if suffix == "service":
        return text
    if suffix in _UNIT_TYPES:
        raise ValueError(f"'{text}' is a {suffix} unit; nethook restarts services only")
    return f"{text}.service"


def absolute_path(text: str) -> str:
    if not text.startswith("/"):
        raise ValueError(f"'{text}' is not an absolute path")
    return text


class Merger:
    """Files in order: later settings replace earlier ones; units concatenate, each once."""

    def __init__(self) -> None:
        self.rate_limit = DEFAULT_RATE_LIMIT
        self.daemons: Dict[str, DaemonSettings] = {}
        self.units: Dict[str, UnitSettings] = {}

    def add(self, declared: Optional[ServicesFile]) -> None:
        if declared is None:
            return
        if declared.rate_limit is not None:
            self.rate_limit = declared.rate_limit
        self.daemons.update(declared.daemons)
        for unit, path in declared.units:
            first = self.units.get(unit.unit)
            if first is not None:
                where = unit.origin or Origin("")
                raise ConfigError(where.source, where.line, path,
                                  f"duplicate unit '{unit.unit}'; first declared at "
                                  f"{first.origin}")
            self.units[unit.unit] = unit

    def result(self) -> ServicesConfig:
        base = ServicesConfig()
        return ServicesConfig(
            rate_limit=self.rate_limit,
            ntpd=self.daemons.get("ntpd", base.ntpd),
            chrony=self.daemons.get("chrony", base.chrony),
            xinetd=self.daemons.get("xinetd", base.xinetd),
            units=tuple(self.units.values()))
