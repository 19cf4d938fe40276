"""nethook's own configuration: which files are read, and what they declare.

Files are found by :func:`discover` and read by :func:`load` into one immutable
:class:`Config`. Parsing is pure: only the given paths are read, nothing asks the kernel.
The schema itself is in :mod:`nethook.config.schema`.

Several files merge in order: the interfaces' lists concatenate, and a scalar setting
(``snapshot``, ``import``) from a later file overrides an earlier one. Declaring the same address,
route or rule twice is an error, within a file or across files, and names both places.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from nethook.base.errors import ConfigError
from nethook.base.files import entry_names
from nethook.config.imports import IMPORT_AUTO
from nethook.config.rt_tables import RouteTables
from nethook.config.services import Merger as ServicesMerger
from nethook.config.services import ServicesConfig
from nethook.model.objects import (
    Address,
    Desired,
    IPAddress,
    IPInterface,
    IPNetwork,
    Origin,
    Route,
    Rule,
)

if TYPE_CHECKING:  # reading the YAML (PyYAML) loads only when a file is read
    from nethook.config.schema import FileConfig

CONFIG_DIR = "etc/nethook"
MAIN_FILE = "nethook.yaml"
DROP_IN_DIR = "conf.d"
SUFFIX = ".yaml"


@dataclass(frozen=True)
class Config:
    """Everything the configuration files declare, merged."""

    desired: Desired = field(default_factory=Desired)
    # Whether nethook snapshots an interface's own state to restore it; the per-interface
    # setting wins over the global one.
    snapshot: bool = True
    snapshot_interfaces: Mapping[str, bool] = field(
        default_factory=lambda: MappingProxyType({}), hash=False)
    files: Tuple[str, ...] = ()  # every file read, in order (empty ones too)
    # Which distro files add to the declared state: ("auto",), or the sources named.
    imports: Tuple[str, ...] = (IMPORT_AUTO,)
    # Which daemons must listen on restored addresses (the ``services:`` section).
    services: ServicesConfig = field(default_factory=ServicesConfig)
    # node_exporter's textfile directory, where the watcher refreshes nethook.prom
    metrics_textfile: Optional[Path] = None

    def snapshot_enabled(self, ifname: str) -> bool:
        return self.snapshot_interfaces.get(ifname, self.snapshot)


def discover(root: Path, override: Optional[Path] = None) -> List[Path]:
    """The configuration files to read, in order. Missing default files mean "nothing".

    Without ``override``: ``ROOT/etc/nethook/nethook.yaml``, then
    ``ROOT/etc/nethook/conf.d/*.yaml`` in name order.

    ``override`` is taken as given (not under ``root``) and must exist:

    * a file is read alone, whatever its name;
    * a directory holding ``nethook.yaml`` or ``conf.d/`` is read exactly like
      ``/etc/nethook`` (``nethook.yaml``, then ``conf.d/*.yaml``), so a copy of
      ``/etc/nethook`` behaves like the real one;
    * any other directory is a set of fragments: ``DIR/*.yaml`` in name order (point it at
      a ``conf.d`` to try the drop-ins alone).

    Only ``*.yaml`` names count; names starting with ``.`` (editor and lock files) are
    skipped. A directory with such a name is a ConfigError, not something to skip without
    a word: whoever made ``conf.d/10-x.yaml/`` meant a file. "Name order" is code-point
    order, as ``LC_ALL=C ls``.
    """
    if override is None:
        return _layout(root / CONFIG_DIR)
    if override.is_dir():
        if _exists(override / MAIN_FILE) or (override / DROP_IN_DIR).is_dir():
            return _layout(override)
        return _fragments(override)
    if _exists(override):
        return [override]
    raise ConfigError(str(override), 0, "", "no such file or directory")


def listed_directories(root: Path, override: Optional[Path] = None) -> Tuple[Path, ...]:
    """The directories whose listings decide what :func:`discover` returns (a file given
    as ``override`` is itself the answer): for a cache of what the files declare."""
    directory = root / CONFIG_DIR if override is None else override
    return (directory, directory / DROP_IN_DIR)


def _layout(directory: Path) -> List[Path]:
    main = directory / MAIN_FILE
    return ([main] if _exists(main) else []) + _fragments(directory / DROP_IN_DIR)


def _exists(path: Path) -> bool:
    """Present at all, even as a dangling link, which is then reported as unreadable."""
    return path.exists() or path.is_symlink()


def _fragments(directory: Path) -> List[Path]:
    found = [directory / name for name in entry_names(directory)
             if name.endswith(SUFFIX) and not name.startswith(".")]
    for path in found:
        if path.is_dir():
            raise ConfigError(str(path), 0, "", "a directory where a configuration file is "
                                                f"expected (every *{SUFFIX} here is read as one)")
    return found


def load(paths: Sequence[Path], tables: Optional[RouteTables] = None) -> Config:
    """Read and merge ``paths``; ConfigError on the first invalid file, naming the line.

    ``tables`` resolves ``table:`` names (default: only iproute2's built-in names).
    """
    from nethook.config import nodes, schema

    merger = _Merger(tables or RouteTables.builtin())
    for path in paths:
        source = str(path)
        node = nodes.compose(_read(path), source)
        merger.add(schema.read_file(node, source, merger.tables))
    return merger.result(tuple(str(p) for p in paths))


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), 0, "", f"cannot read: {exc.strerror}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(str(path), line, "",
                          f"not UTF-8 text (byte {data[exc.start]:#04x})") from exc


class _Merger:
    """Accumulates files in order and refuses an object declared twice."""

    def __init__(self, tables: RouteTables) -> None:
        self.tables = tables
        self.snapshot = True
        self.imports: Tuple[str, ...] = (IMPORT_AUTO,)
        self.snapshot_interfaces: Dict[str, bool] = {}
        self.addresses: Dict[Tuple[str, IPInterface], Address] = {}
        self.prefixes: Dict[Tuple[str, IPAddress], Address] = {}
        self.routes: Dict[Tuple[int, int, IPNetwork, int], Route] = {}
        self.rules: Dict[Rule, Rule] = {}
        self.services = ServicesMerger()
        self.textfile: Optional[str] = None

    def add(self, declared: FileConfig) -> None:
        if declared.snapshot is not None:
            self.snapshot = declared.snapshot
        if declared.imports is not None:
            self.imports = declared.imports
        self.snapshot_interfaces.update(declared.snapshot_interfaces)
        for address, path in declared.addresses:
            self._address(address, path)
        for route, path in declared.routes:
            self._route(route, path)
        for rule, path in declared.rules:
            self._rule(rule, path)
        self.services.add(declared.services)
        if declared.metrics_textfile is not None:
            self.textfile = declared.metrics_textfile

    def _address(self, address: Address, path: str) -> None:
        first = self.addresses.get(address.key)
        if first is not None:
            raise _duplicate(address.origin, path,
                             f"duplicate address {address.interface.with_prefixlen} on "
                             f"{address.ifname}; first declared at {first.origin}")
        other = self.prefixes.get((address.ifname, address.interface.ip))
        if other is not None:
            raise _duplicate(address.origin, path,
                             f"{address.interface.with_prefixlen} conflicts with "
                             f"{other.interface.with_prefixlen} declared at {other.origin}; "
                             "an address has only one prefix length on an interface")
        self.addresses[address.key] = address
        self.prefixes[(address.ifname, address.interface.ip)] = address

    def _route(self, route: Route, path: str) -> None:
        first = self.routes.get(route.key)
        if first is None:
            self.routes[route.key] = route
            return
        name = self.tables.name_of(route.table)
        table = f"{route.table} ({name})" if name else str(route.table)
        dst = "default" if route.dst.prefixlen == 0 else route.dst.with_prefixlen
        raise _duplicate(route.origin, path,
                         f"duplicate IPv{route.family} route to {dst} in table {table} with "
                         f"metric {route.metric}; first declared at {first.origin}")

    def _rule(self, rule: Rule, path: str) -> None:
        first = self.rules.get(rule)
        if first is not None:
            raise _duplicate(rule.origin, path, f"duplicate rule '{rule.describe()}'; "
                                                f"first declared at {first.origin}")
        self.rules[rule] = rule

    def result(self, files: Tuple[str, ...]) -> Config:
        desired = Desired(frozenset(self.addresses.values()), frozenset(self.routes.values()),
                          frozenset(self.rules.values()))
        return Config(desired, self.snapshot, MappingProxyType(dict(self.snapshot_interfaces)),
                      files, self.imports, self.services.result(),
                      Path(self.textfile) if self.textfile else None)


def _duplicate(origin: Optional[Origin], path: str, message: str) -> ConfigError:
    where = origin or Origin("")
    return ConfigError(where.source, where.line, path, message)
