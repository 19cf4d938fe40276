"""The changes ``nethook doctor --fix`` can make, each printed before it is made.

Only three kinds, all of them safe and unambiguous where a check offers them:

* deleting runtime routes (the extra default routes), through the live port;
* rewriting a file, after copying it to ``NAME.nethook-STAMP.bak`` beside it. The name
  ends in ``.bak`` so that nothing reads the copy as configuration: initscripts and
  nethook's importer skip ``*.bak`` ifcfg files, run-parts skips names with a dot;
* changing the mode or owner of a file or directory nethook owns (a hook, the state
  directory); the old values are printed, which is all a backup of them would hold.

No fix ever writes ``/etc/network/interfaces`` or what it sources.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from nethook.base.files import write_atomic
from nethook.doctor.findings import FixError
from nethook.doctor.live import Live
from nethook.model.objects import Route
from nethook.model.ops import RouteOp, Verb

GONE = frozenset({errno.ESRCH, errno.ENOENT})


def backup_path(path: Path, stamp: str) -> Path:
    return path.with_name(f"{path.name}.nethook-{stamp}.bak")


@dataclass(frozen=True)
class DeleteRoutes:
    routes: Tuple[Route, ...]  # without a scope, any scope matches, as with `ip route del`

    def describe(self) -> str:
        return "; ".join(RouteOp(Verb.DELETE, r).describe() for r in self.routes)

    def apply(self, live: Live, stamp: str) -> str:
        done: List[str] = []
        for route in self.routes:
            code, message = live.delete_route(route)
            if code and code not in GONE:
                reason = message or os.strerror(code)
                undone = f" (deleted before it: {'; '.join(done)})" if done else ""
                raise FixError(f"the kernel refused to delete {route.describe()}: "
                               f"{reason}{undone}")
            done.append(route.describe() if not code else f"{route.describe()} (already gone)")
        return f"deleted {len(self.routes)} route(s)"


@dataclass(frozen=True)
class RewriteFile:
    """Replace ``path``'s content with ``text``, keeping its mode and owner."""

    path: Path
    text: str
    what: str  # for the message: "ifcfg-eth0 with the addressing of ifcfg-eth0.bak"

    def describe(self) -> str:
        return f"rewrite {self.path}: {self.what} (a copy of the old file is kept beside it)"

    def apply(self, live: Live, stamp: str) -> str:
        backup = backup_path(self.path, stamp)
        try:
            info = self.path.stat()
            shutil.copy2(self.path, backup)
            _replace(self.path, self.text, info)
        except OSError as exc:
            raise FixError(f"cannot rewrite {self.path}: {exc.strerror or exc}") from exc
        return f"rewrote {self.path}; the old file is {backup}"


def _replace(path: Path, text: str, info: os.stat_result) -> None:
    """Replace the file at once, then give it back its mode and owner."""
    write_atomic(path, text)
    os.chmod(path, stat.S_IMODE(info.st_mode))
    if (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
        os.chown(path, info.st_uid, info.st_gid)


@dataclass(frozen=True)
class SetPermissions:
    """``chmod`` and/or ``chown`` one path; ``None`` leaves that part alone."""

    path: Path
    was_mode: int
    was_owner: Tuple[int, int]
    mode: Optional[int] = None
    owner: Optional[Tuple[int, int]] = None

    def describe(self) -> str:
        parts = []
        if self.owner is not None:
            parts.append(f"chown {self.owner[0]}:{self.owner[1]} {self.path} (was "
                         f"{self.was_owner[0]}:{self.was_owner[1]})")
        if self.mode is not None:
            parts.append(f"chmod {self.mode:04o} {self.path} (was {self.was_mode:04o})")
        return "; ".join(parts)

    def apply(self, live: Live, stamp: str) -> str:
        try:
            if self.owner is not None:
                os.chown(self.path, *self.owner, follow_symlinks=False)
            if self.mode is not None:
                os.chmod(self.path, self.mode)
            info = self.path.lstat()
        except OSError as exc:
            raise FixError(f"cannot change {self.path}: {exc.strerror or exc}") from exc
        return (f"{self.path} is now mode {stat.S_IMODE(info.st_mode):04o}, owner "
                f"{info.st_uid}:{info.st_gid}")
