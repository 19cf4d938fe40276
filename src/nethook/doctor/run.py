"""Run every check, print the findings, apply the fixes asked for, and pick the exit status.

Exit status: 0 nothing wrong (informational findings only), 1 warnings or errors found
(after ``--fix``: those its fixes did not clear), 2 doctor itself could not run a check
(a file it could not read, the kernel's state it could not read, or a failure of the check
itself); the other checks still run and print.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional, TextIO, Tuple

from nethook.base.context import RunContext
from nethook.base.errors import NethookError
from nethook.base.exit_codes import ExitCode
from nethook.doctor import (
    aliases,
    dhclient,
    hooks,
    mac,
    ntpd,
    policy,
    report,
    routes,
    selfcheck,
    xinetd,
)
from nethook.doctor.findings import Finding, FixContext, FixError
from nethook.doctor.inputs import ROOT, Inspection, Owner
from nethook.doctor.live import Live, SystemLive
from nethook.model.ports import Netlink

log = logging.getLogger(__name__)
Check = Callable[[Inspection], List[Finding]]
CHECKS: Tuple[Tuple[str, Check], ...] = (
    (routes.CHECK, routes.check),
    (mac.CHECK, mac.check),
    (policy.CHECK, policy.check),
    (aliases.CHECK, aliases.check),
    (dhclient.CHECK, dhclient.check),
    (ntpd.CHECK, ntpd.check),
    (xinetd.CHECK, xinetd.check),
    (hooks.CHECK, hooks.check),
    (selfcheck.CHECK, selfcheck.check),
)
ORDER: Dict[str, int] = {name: index for index, (name, _check) in enumerate(CHECKS)}
COULD_NOT_RUN = ExitCode.USAGE  # status 2, as for a command that could not do its work


@dataclass(frozen=True)
class Outcome:
    findings: Tuple[Finding, ...]
    failed: Tuple[Tuple[str, str], ...] = ()  # (check, why it could not run)


@dataclass(frozen=True)
class Applied:
    finding: Finding
    ok: bool
    result: str


def inspect(inspection: Inspection) -> Outcome:
    findings: List[Finding] = []
    failed: List[Tuple[str, str]] = []
    for name, check in CHECKS:
        try:
            findings += check(inspection)
        except (NethookError, OSError) as exc:  # a file or the kernel could not be read
            failed.append((name, str(exc)))
        except Exception as exc:  # doctor's boundary: one check must not hide the others
            log.debug("the %s check failed", name, exc_info=True)
            failed.append((name, f"{type(exc).__name__}: {exc}"))
    findings.sort(key=lambda f: (f.severity.rank, ORDER[f.check]))
    return Outcome(tuple(findings), tuple(failed))


def apply_fixes(outcome: Outcome, fixing: FixContext,
                announce: Callable[[str], None]) -> List[Applied]:
    applied = []
    for finding in outcome.findings:
        if finding.action is None:
            continue
        announce(f"fixing: {finding.action.describe()}")
        try:
            result = Applied(finding, True, finding.action.apply(fixing))
        except FixError as exc:
            result = Applied(finding, False, str(exc))
        announce(f"  {'done' if result.ok else 'FAILED'}: {result.result}")
        applied.append(result)
    return applied


def exit_code(outcome: Outcome, applied: List[Applied]) -> int:
    if outcome.failed:
        return COULD_NOT_RUN
    fixed = {id(a.finding) for a in applied if a.ok}
    left = [f for f in outcome.findings if f.counts and id(f) not in fixed]
    return ExitCode.INCOMPLETE if left else ExitCode.OK


def main(ctx: RunContext, *, fix: bool = False, as_json: bool = False,
         live: Optional[Live] = None, owner: Owner = ROOT, now: Optional[datetime] = None,
         out: TextIO = sys.stdout, open_netlink: Optional[Callable[[], Netlink]] = None) -> int:
    """``nethook doctor``. Tests pass a fake ``live`` and kernel (``open_netlink``, what
    fixes change the kernel through), their own ``owner`` and ``now``."""
    now = now or datetime.now(timezone.utc)
    on_this_system = ctx.root.resolve() == Path("/")
    inspection = Inspection(ctx, live or SystemLive(look_at_processes=on_this_system), now,
                            owner)
    outcome = inspect(inspection)
    names = [name for name, _check in CHECKS]
    if not as_json:
        out.write(report.text(outcome.findings, outcome.failed, names, str(ctx.root), fix))
        out.flush()
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    announce = ((lambda line: None) if as_json
                else (lambda line: print(report.printable(line), file=out)))
    applied = []
    if fix:
        from nethook.engine.reconcile import open_kernel

        fixing = FixContext(ctx, stamp, open_netlink or open_kernel)
        applied = apply_fixes(outcome, fixing, announce)
    code = exit_code(outcome, applied)
    if as_json:
        data = report.as_dict(outcome.findings, outcome.failed, names, str(ctx.root))
        data["exit"] = int(code)
        if fix:
            data["fixes"] = [{"check": a.finding.check, "code": a.finding.code,
                              "action": a.finding.action.describe() if a.finding.action else "",
                              "applied": a.ok, "result": a.result} for a in applied]
        json.dump(data, out, indent=2, sort_keys=True)
        out.write("\n")
    return code
