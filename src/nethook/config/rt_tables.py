"""Routing table names, read the way iproute2 reads them, and table values resolved to ids.

iproute2 (6.5 and later) knows four built-in names, then reads:

* ``/etc/iproute2/rt_tables``; only when that file does not exist, the vendor copy
  ``/usr/share/iproute2/rt_tables`` (``/usr/lib/iproute2`` on distributions that keep
  upstream's default);
* every ``*.conf`` in the vendor ``rt_tables.d`` whose name is not also present in
  ``/etc/iproute2/rt_tables.d`` (an administrator's file of the same name replaces it),
  then every ``*.conf`` in ``/etc/iproute2/rt_tables.d``.

nethook follows the same rules, so a name resolves here exactly when ``ip route ... table
NAME`` would accept it. Directory entries are read in name order (iproute2 uses readdir
order; the difference only matters for a name defined twice, which is reported as
ambiguous when a configuration uses it). Every path is taken under a filesystem ``root``.

A line is ``ID NAME``: ``ID`` decimal or ``0x`` hex, anything after the name ignored, as
iproute2 does; blank lines and ``#`` comments are skipped. A line iproute2 would stop at
raises ``ConfigError`` here, and so does a file that exists but cannot be read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Dict, List, Optional, Tuple, Union

from nethook.base.errors import ConfigError
from nethook.base.files import entry_names
from nethook.config.values import did_you_mean
from nethook.model.objects import Origin

TABLE_MAX = 2**32 - 1
UNSPEC_TABLE = 0
LOCAL_TABLE = 255
BUILTIN_TABLES: Tuple[Tuple[str, int], ...] = (
    ("unspec", 0), ("default", 253), ("main", 254), ("local", 255),
)
BUILTIN_ORIGIN = Origin("iproute2 built-in")
ETC_DIR = "etc/iproute2"
# Where distributions put iproute2's own defaults; the first that exists is used.
VENDOR_DIRS: Tuple[str, ...] = ("usr/share/iproute2", "usr/lib/iproute2")

_ID = re.compile(r"(?:0[xX][0-9a-fA-F]+|[0-9]+)\Z")  # as iproute2 reads files: 010 is 10
_LEADING_ZERO = re.compile(r"0[0-9]+\Z")  # `ip route ... table 010` is octal 8: refuse it
_SUGGESTIONS_SHOWN = 8


class TableError(ValueError):
    """A table value in a configuration cannot be used; the message says why."""


@dataclass(frozen=True)
class TableName:
    """One ``ID NAME`` definition and where it was read."""

    name: str
    id: int
    origin: Origin


@dataclass(frozen=True)
class RouteTables:
    """Known table names. ``names`` maps each name to its last definition."""

    names: Mapping[str, TableName] = field(
        default_factory=lambda: MappingProxyType({}), hash=False)
    # Names defined with two different ids: using one is an error, not a guess.
    ambiguous: Mapping[str, Tuple[TableName, ...]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False)
    # Where names come from, as shown to an administrator (patterns under the root).
    locations: Tuple[str, ...] = ()

    @classmethod
    def builtin(cls) -> RouteTables:
        return _collect(_builtins(), ())

    def id_of(self, name: str) -> Optional[int]:
        entry = self.names.get(name)
        return entry.id if entry is not None else None

    def name_of(self, table: int) -> Optional[str]:
        """A name for a table id (the first name defined for it), if it has one."""
        for entry in self.names.values():
            if entry.id == table:
                return entry.name
        return None

    def lookup(self, value: Union[int, str]) -> int:
        """A table id from a number, a numeric string or a name; no policy on which ids."""
        if isinstance(value, bool):
            raise TableError(f"'{value}' is not a routing table")
        if isinstance(value, int):
            return _in_range(value, str(value))
        if value in self.ambiguous:
            raise TableError(_ambiguous_message(value, self.ambiguous[value]))
        entry = self.names.get(value)
        if entry is not None:
            return entry.id
        if _LEADING_ZERO.match(value):
            raise TableError(f"table '{value}' has a leading zero, which ip reads as octal; "
                             "write the number without it, or in 0x hex")
        if _ID.match(value):
            return _in_range(_number(value), value)
        raise TableError(self._unknown_message(value))

    def resolve(self, value: Union[int, str]) -> int:
        """A table id nethook may declare routes and rules in (not unspec, not local)."""
        table = self.lookup(value)
        shown = str(table) if str(value) == str(table) else f"'{value}' ({table})"
        if table == UNSPEC_TABLE:
            raise TableError(f"table {shown} is unspec, which cannot hold routes or rules")
        if table == LOCAL_TABLE:
            raise TableError(f"table {shown} is the kernel's local table; "
                             "nethook does not declare routes or rules in it")
        return table

    def _unknown_message(self, value: str) -> str:
        usable = sorted((n for n, e in self.names.items()
                         if e.id not in (UNSPEC_TABLE, LOCAL_TABLE)), key=str.lower)
        hint = did_you_mean(value, usable)
        shown = ", ".join(usable[:_SUGGESTIONS_SHOWN])
        if len(usable) > _SUGGESTIONS_SHOWN:
            shown += ", ..."
        where = ", ".join(self.locations) if self.locations else "iproute2's built-in list"
        return (f"unknown routing table '{value}'{hint}: not a number, nor a name defined "
                f"in {where}; known names: {shown}")


def _number(text: str) -> int:
    return int(text[2:], 16) if text[:2] in ("0x", "0X") else int(text, 10)


def _in_range(table: int, text: str) -> int:
    if not 0 <= table <= TABLE_MAX:
        raise TableError(f"table '{text}' is out of range (table ids go up to {TABLE_MAX})")
    return table


def _ambiguous_message(name: str, entries: Tuple[TableName, ...]) -> str:
    defined = ", ".join(f"{e.id} at {e.origin}" for e in entries)
    return f"routing table name '{name}' is ambiguous: it is defined as {defined}"


def _builtins() -> List[TableName]:
    return [TableName(name, table, BUILTIN_ORIGIN) for name, table in BUILTIN_TABLES]


def parse_rt_tables(text: str, source: str) -> List[TableName]:
    """The definitions in one rt_tables-format text; ``source`` names it in origins."""
    found: List[TableName] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) < 2 or fields[1].startswith("#"):
            raise ConfigError(source, number, "",
                              f"expected 'ID NAME', got '{line.strip()}'")
        if not _ID.match(fields[0]):
            raise ConfigError(source, number, "",
                              f"'{fields[0]}' is not a table id (decimal or 0x hex)")
        table = _number(fields[0])
        if table > TABLE_MAX:
            raise ConfigError(source, number, "",
                              f"table id {fields[0]} is out of range (0 to {TABLE_MAX})")
        found.append(TableName(fields[1], table, Origin(source, number)))
    return found


def load_tables(root: Path) -> RouteTables:
    """The built-in names plus every file iproute2 would read under ``root``."""
    etc = root / ETC_DIR
    vendor = _vendor_dir(root)
    entries = _builtins()
    for path in _files(etc, vendor):
        entries.extend(parse_rt_tables(_read(path), str(path)))
    locations = (str(etc / "rt_tables"), str(etc / "rt_tables.d" / "*.conf"),
                 str(vendor / "rt_tables"), str(vendor / "rt_tables.d" / "*.conf"))
    return _collect(entries, locations)


def listed_directories(root: Path) -> Tuple[Path, ...]:
    """Every directory whose listing (and every file in it) decides what
    :func:`load_tables` reads, and its files are in them: for a cache of the result."""
    dirs = [root / ETC_DIR, root / ETC_DIR / "rt_tables.d"]
    for candidate in VENDOR_DIRS:
        dirs += [root / candidate, root / candidate / "rt_tables.d"]
    return tuple(dirs)


def _vendor_dir(root: Path) -> Path:
    for candidate in VENDOR_DIRS:
        if (root / candidate).is_dir():
            return root / candidate
    return root / VENDOR_DIRS[0]


def _files(etc: Path, vendor: Path) -> Iterator[Path]:
    main = etc / "rt_tables"
    yield main if _exists(main) else vendor / "rt_tables"
    local = {p.name for p in _conf_files(etc / "rt_tables.d", include_dangling=True)}
    for path in _conf_files(vendor / "rt_tables.d"):
        if path.name not in local:
            yield path
    yield from _conf_files(etc / "rt_tables.d")


def _exists(path: Path) -> bool:
    """True for anything at ``path``, even a dangling link (iproute2 then reads nothing)."""
    try:
        path.lstat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ConfigError(str(path), 0, "", f"cannot read: {exc.strerror}") from exc
    return True


def _conf_files(directory: Path, include_dangling: bool = False) -> List[Path]:
    paths = [directory / n for n in entry_names(directory)
             if n.endswith(".conf") and len(n) > 5 and not n.startswith(".")]
    return [p for p in paths if not p.is_dir() and (include_dangling or _exists(p))]


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ConfigError(str(path), 0, "", f"cannot read: {exc.strerror}") from exc


def _collect(entries: List[TableName], locations: Tuple[str, ...]) -> RouteTables:
    names: Dict[str, TableName] = {}
    seen: Dict[str, List[TableName]] = {}
    for entry in entries:
        names[entry.name] = entry
        versions = seen.setdefault(entry.name, [])
        if all(v.id != entry.id for v in versions):
            versions.append(entry)
    ambiguous = {name: tuple(v) for name, v in seen.items() if len(v) > 1}
    return RouteTables(MappingProxyType(names), MappingProxyType(ambiguous), locations)
