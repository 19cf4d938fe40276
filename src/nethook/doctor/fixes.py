"""The changes ``nethook doctor --fix`` can make, each printed before it is made.

Only three kinds, all of them safe and unambiguous where a check offers them:

* deleting runtime routes (the extra default routes). Like every change nethook makes to
  the kernel, this goes through the planner and the applier, under the run lock: the
  planner deletes only a route the kernel still has as doctor saw it, the applier judges
  the kernel's answers by errno and logs them;
* rewriting a file, after copying it to ``NAME.nethook-STAMP.bak`` beside it. The name
  ends in ``.bak`` so that nothing reads the copy as configuration: initscripts and
  nethook's importer skip ``*.bak`` ifcfg files, run-parts skips names with a dot;
* changing the mode or owner of a file or directory nethook owns (a hook, the state
  directory); the old values are printed, which is all a backup of them would hold.

Every file fix stays inside ``--root`` (base/confined.py): a path that resolves outside it
is refused, no link is followed on the way or at the file itself, the backup is created
only where no name (a planted link included) is already there, and a file changed since
doctor looked at it is left alone. No fix ever writes ``/etc/network/interfaces`` or what
it sources.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from nethook.base import confined
from nethook.base.errors import NethookError
from nethook.base.lock import RunLock
from nethook.doctor.findings import FixContext, FixError
from nethook.engine.apply import ApplyReport, Status, apply
from nethook.engine.plan import plan
from nethook.model.objects import Desired, Route
from nethook.model.ops import Plan, RouteOp, Verb


def backup_path(path: Path, stamp: str) -> Path:
    return path.with_name(f"{path.name}.nethook-{stamp}.bak")


def route_deletion(route: Route, table_name: Optional[str]) -> str:
    """``ip route del ...`` for ``route``, its table by name when it has one, as the
    evidence shows it (``table main``, not ``table 254``)."""
    command = RouteOp(Verb.DELETE, route).describe()
    return f"{command.rsplit(' table ', 1)[0]} table {table_name}" if table_name else command


@dataclass(frozen=True)
class DeleteRoutes:
    routes: Tuple[Route, ...]  # without a scope, any scope matches, as with `ip route del`
    table_names: Tuple[Tuple[int, str], ...] = ()  # what `ip` calls the tables

    def describe(self) -> str:
        names = dict(self.table_names)
        return "; ".join(route_deletion(r, names.get(r.table)) for r in self.routes)

    def apply(self, fixing: FixContext) -> str:
        """Observe the routes' tables again, plan their deletion (the planner keeps only
        those still there as doctor saw them) and apply the plan."""
        tables = sorted({route.table for route in self.routes})
        try:
            with RunLock(fixing.ctx.run_dir, fixing.ctx.lock_timeout):
                netlink = fixing.open_netlink()
                try:
                    deletions = plan(Desired(), netlink.observe((), tables), self.routes)
                    report = apply(deletions, netlink, "doctor --fix")
                finally:
                    netlink.close()
        except NethookError as exc:  # the lock, reading the kernel, the socket itself
            raise FixError(f"cannot delete the routes: {exc}") from exc
        return self._outcome(deletions, report)

    def _outcome(self, deletions: Plan, report: ApplyReport) -> str:
        deleted = [r.op.target.describe() for r in report.applied]
        planned = {op.target for op in deletions.ops}
        gone = [r.describe() for r in self.routes if r not in planned]
        gone += [r.op.target.describe() for r in report.results if r.status is Status.ALREADY]
        if report.failed:
            before = f" (deleted before it: {'; '.join(deleted)})" if deleted else ""
            raise FixError("; ".join(f"the kernel refused {r.describe()}"
                                     for r in report.failed) + before)
        text = f"deleted {len(deleted)} route(s)"
        if gone:
            text += f"; already gone, or changed since doctor looked: {'; '.join(gone)}"
        return text


@dataclass(frozen=True)
class RewriteFile:
    """Replace ``path``'s content with ``text``, keeping its mode and owner. ``was`` is the
    content ``text`` was made from: a file changed since is left alone."""

    path: Path
    text: str
    was: str
    what: str  # for the message: "ifcfg-eth0 with the addressing of ifcfg-eth0.bak"

    def describe(self) -> str:
        return f"rewrite {self.path}: {self.what} (a copy of the old file is kept beside it)"

    def apply(self, fixing: FixContext) -> str:
        backup = backup_path(self.path, fixing.stamp)
        try:
            with confined.directory(fixing.ctx.root, self.path.parent) as folder:
                old, info = confined.read_regular(folder, self.path.name, self.path)
                if old.decode("utf-8", errors="replace") != self.was:
                    raise FixError(f"{self.path} changed since doctor read it; run doctor "
                                   "again")
                confined.create(folder, backup.name, old, info, backup)
                confined.replace(folder, self.path.name, self.text.encode("utf-8"), info)
        except confined.Unsafe as exc:
            raise FixError(f"refused: {exc}") from exc
        except OSError as exc:
            raise FixError(f"cannot rewrite {self.path}: {exc.strerror or exc}") from exc
        return f"rewrote {self.path}; the old file is {backup}"


@dataclass(frozen=True)
class SetPermissions:
    """``chmod`` and/or ``chown`` one path; ``None`` leaves that part alone.

    ``within`` is the directory the path must stay in: the run's root for a file under it
    (None), the parent of one of nethook's own directories. The path itself is never
    followed if it is a link, and one whose mode or owner changed since is left alone."""

    path: Path
    was_mode: int
    was_owner: Tuple[int, int]
    mode: Optional[int] = None
    owner: Optional[Tuple[int, int]] = None
    within: Optional[Path] = None

    def describe(self) -> str:
        parts = []
        if self.owner is not None:
            parts.append(f"chown {self.owner[0]}:{self.owner[1]} {self.path} (was "
                         f"{self.was_owner[0]}:{self.was_owner[1]})")
        if self.mode is not None:
            parts.append(f"chmod {self.mode:04o} {self.path} (was {self.was_mode:04o})")
        return "; ".join(parts)

    def apply(self, fixing: FixContext) -> str:
        within = self.within if self.within is not None else fixing.ctx.root
        try:
            with confined.directory(within, self.path.parent) as folder:
                fd = confined.open_entry(folder, self.path.name, self.path)
                try:
                    info = self._change(fd)
                finally:
                    os.close(fd)
        except confined.Unsafe as exc:
            raise FixError(f"refused: {exc}") from exc
        except OSError as exc:
            raise FixError(f"cannot change {self.path}: {exc.strerror or exc}") from exc
        return (f"{self.path} is now mode {stat.S_IMODE(info.st_mode):04o}, owner "
                f"{info.st_uid}:{info.st_gid}")

    def _change(self, fd: int) -> os.stat_result:
        info = os.fstat(fd)
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            raise FixError(f"refused: {self.path} is no longer a file or a directory")
        if (stat.S_IMODE(info.st_mode), (info.st_uid, info.st_gid)) != (
                self.was_mode, self.was_owner):
            raise FixError(f"{self.path} changed since doctor looked; run doctor again")
        if self.owner is not None:
            os.fchown(fd, *self.owner)
        if self.mode is not None:
            os.fchmod(fd, self.mode)
        return os.fstat(fd)
