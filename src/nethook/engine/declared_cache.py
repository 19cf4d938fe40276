"""What nethook's own files declare, kept in the run directory between runs.

Every hook is a fresh process, and reading the configuration (PyYAML, the schema, every
value parsed) is most of its work before it can change anything, while the files
themselves rarely change. So the result of reading them (the configuration, the routing
table names and, with ``import: auto``, which distro sources are present) is kept in
``RUN_DIR/declared.json`` and used again while every input is as it was. The distro
files an import reads are read every run.

The key is every path whose content or listing decides that result: the directories
nethook's configuration, ``rt_tables`` and each importer's presence check look in, every
entry of each, and a configuration file given by path; for each, ``lstat`` and ``stat``
(type and mode, device, inode, size, mtime and ctime in nanoseconds) or that it is
absent. Plus the root, the configuration option, nethook's version, and the files of the
code that reads them (``nethook.config`` and this module): an upgrade is a miss.

Any doubt means a miss, never a wrong answer:

* a path that cannot be looked at (other than absent) makes the run read the files and
  keep nothing;
* a result is kept only if no input changed while it was read (the key is taken before
  and after), and none changed in the ``RACY_NS`` before: a second change within one
  tick of the file system's clock would leave both times as they were (git's "racily
  clean" entries); ctime cannot be set back, so ``touch -d`` does not hide a change;
* the file is read through :mod:`nethook.base.safefiles` and decoded like any state file
  (:mod:`nethook.config.codec`): anything unexpected is a miss.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple, Union

from nethook import __version__
from nethook.base.context import RunContext
from nethook.base.errors import NethookError, StateError
from nethook.base.safefiles import TrustedDir
from nethook.config import codec, rt_tables
from nethook.config import load as config_files
from nethook.config.imports import PRESENCE
from nethook.config.load import Config
from nethook.config.rt_tables import RouteTables

log = logging.getLogger(__name__)
CACHE_NAME = "declared.json"
CACHE_VERSION = 1
READ_LIMIT = 64 << 20
# Coarser than any file system's timestamps: jiffies on Linux's own, 1 s on ext4 with
# small inodes and on some NFS servers, 2 s on FAT.
RACY_NS = 2_000_000_000
_ABSENT = (errno.ENOENT, errno.ENOTDIR)
Signature = Union[str, List[int]]  # "absent", or mode, dev, inode, size, mtime, ctime
Entry = List[Any]  # [path, lstat's signature, stat's signature]


@dataclass(frozen=True)
class Parsed:
    """What nethook's files declare, as read or as cached."""

    config: Config
    tables: RouteTables
    present: Optional[Tuple[str, ...]] = None  # import: auto: the sources present, if known


class _Unkeyable(Exception):
    """A path could not be looked at: nothing can be cached, nor trusted from the cache."""


def _signature(path: str, follow: bool) -> Signature:
    try:
        info = os.stat(path, follow_symlinks=follow)
    except OSError as exc:
        if exc.errno in _ABSENT:
            return "absent"
        raise _Unkeyable(f"cannot look at {path}: {exc.strerror}") from None
    return [info.st_mode, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns,
            info.st_ctime_ns]


def _entry(path: str) -> Entry:
    return [path, _signature(path, False), _signature(path, True)]


def _watched(ctx: RunContext) -> List[Path]:
    return [*config_files.listed_directories(ctx.root, ctx.config),
            *rt_tables.listed_directories(ctx.root),
            *(ctx.root / path for paths in PRESENCE.values() for path in paths),
            Path(config_files.__file__).parent, Path(__file__)]  # the code that reads them


def take_key(ctx: RunContext) -> List[Entry]:
    """Every input's signatures now: each watched path and, in a directory, each entry."""
    key = []
    for path in _watched(ctx):
        entry = _entry(str(path))
        key.append(entry)
        if isinstance(entry[2], list) and stat.S_ISDIR(entry[2][0]):
            try:
                names = sorted(os.listdir(path))
            except OSError as exc:
                if exc.errno in _ABSENT:
                    continue
                raise _Unkeyable(f"cannot list {path}: {exc.strerror}") from None
            key.extend(_entry(str(path / name)) for name in names)
    return key


def _racy(key: List[Entry], started_ns: int) -> bool:
    """Whether an input changed so shortly before ``started_ns`` that a second change
    might not show (or its time is ahead of the clock)."""
    limit = started_ns - RACY_NS
    return any(isinstance(sig, list) and (sig[4] > limit or sig[5] > limit)
               for entry in key for sig in entry[1:])


def _header(ctx: RunContext) -> List[Any]:
    return [CACHE_VERSION, __version__, str(ctx.root),
            None if ctx.config is None else str(ctx.config)]


def load(ctx: RunContext) -> Optional[Parsed]:
    """The cached result, when every input is as it was; None otherwise."""
    try:
        with TrustedDir.open(ctx.run_dir, create=False) as run:
            raw = run.read(CACHE_NAME, READ_LIMIT)
    except FileNotFoundError:
        return None
    except (NethookError, OSError) as exc:
        log.debug("the cached configuration is not read: %s", exc)
        return None
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        if data["header"] != _header(ctx):
            return None
        for path, *signatures in data["key"]:
            if signatures != _entry(path)[1:]:
                return None
        present = data["present"]
        return Parsed(codec.config_from_json(data["config"]),
                      codec.tables_from_json(data["tables"]),
                      None if present is None else codec.strings(present))
    except (_Unkeyable, StateError, ValueError, KeyError, IndexError, TypeError) as exc:
        log.debug("%s: not used: %s", ctx.run_dir / CACHE_NAME, exc)
        return None


class Reading:
    """The inputs' key taken before the files are read; :meth:`save` keeps the result
    only if the key is the same after reading, and no input changed just before."""

    def __init__(self, ctx: RunContext, clock: Callable[[], int] = time.time_ns) -> None:
        self.ctx = ctx
        self.started_ns = clock()
        try:
            self.key: Optional[List[Entry]] = take_key(ctx)
        except _Unkeyable as exc:
            log.debug("the configuration is not cached: %s", exc)
            self.key = None

    def save(self, parsed: Parsed) -> bool:
        """Keep ``parsed`` for the next runs; False when it is not safe to (or fails)."""
        if self.key is None or _racy(self.key, self.started_ns):
            return False
        try:
            if take_key(self.ctx) != self.key:
                return False
        except _Unkeyable:
            return False
        document = {"header": _header(self.ctx), "key": self.key,
                    "present": None if parsed.present is None else list(parsed.present),
                    "config": codec.config_to_json(parsed.config),
                    "tables": codec.tables_to_json(parsed.tables)}
        try:
            with TrustedDir.open(self.ctx.run_dir) as run:
                run.write(CACHE_NAME, json.dumps(document).encode(), durable=False)
        except (NethookError, OSError) as exc:
            log.debug("the configuration is not cached: %s", exc)
            return False
        return True
