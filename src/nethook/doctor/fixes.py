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

No fix ever writes ``/etc/network/interfaces`` or what it sources.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from nethook.base.errors import NethookError
from nethook.base.files import write_atomic
from nethook.base.lock import RunLock
from nethook.doctor.findings import FixContext, FixError
from nethook.engine.apply import ApplyReport, Status, apply
from nethook.engine.plan import plan
from nethook.model.objects import Desired, Route
from nethook.model.ops import Plan, RouteOp, Verb


def backup_path(path: Path, stamp: str) -> Path:
    return path.with_name(f"{path.name}.nethook-{stamp}.bak")


@dataclass(frozen=True)
class DeleteRoutes:
    routes: Tuple[Route, ...]  # without a scope, any scope matches, as with `ip route del`

    def describe(self) -> str:
        return "; ".join(RouteOp(Verb.DELETE, r).describe() for r in self.routes)

    def apply(self, fixing: FixContext) -> str:
        """Observe the routes' tables again, plan their deletion (the planner keeps only
        those still there as doctor saw them) and apply the plan."""
        tables = sorted({route.table for route in self.routes})
        try:
            with RunLock(fixing.ctx.run_dir, fixing.ctx.lock_timeout):
                netlink = fixing.open_netlink()
                try:
                    deletions = plan(Desired(), netlink.observe((), tables), self.routes)
                    report = apply(deletions, netlink)
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
    """Replace ``path``'s content with ``text``, keeping its mode and owner."""

    path: Path
    text: str
    what: str  # for the message: "ifcfg-eth0 with the addressing of ifcfg-eth0.bak"

    def describe(self) -> str:
        return f"rewrite {self.path}: {self.what} (a copy of the old file is kept beside it)"

    def apply(self, fixing: FixContext) -> str:
        backup = backup_path(self.path, fixing.stamp)
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

    def apply(self, fixing: FixContext) -> str:
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
