"""Check 9: nethook itself. Its configuration validates, the distro lines it cannot keep,
its state and run directories (root's, writable by no one else), and recent failures in
its journal."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional

from nethook.base.errors import ConfigError
from nethook.base.safefiles import UntrustedError
from nethook.config.load import CONFIG_DIR, MAIN_FILE
from nethook.doctor.findings import Evidence, Finding, Severity
from nethook.doctor.fixes import SetPermissions
from nethook.doctor.inputs import Inspection
from nethook.engine import journal

CHECK = "nethook"
RECENT = timedelta(days=7)
SHOWN = 5  # failed runs quoted as evidence, the newest ones
PRIVATE = 0o700  # what nethook gives the directories it creates


def check(inspection: Inspection) -> List[Finding]:
    findings = []
    if inspection.config_error is not None:
        findings.append(_invalid(inspection.config_error))
    elif not inspection.desired.objects():
        findings.append(_nothing_declared(inspection))
    if inspection.import_problems:
        findings.append(_not_kept(inspection))
    for what, directory in (("state", inspection.ctx.state_dir),
                            ("run", inspection.ctx.run_dir)):
        finding = _directory(inspection, what, directory)
        if finding is not None:
            findings.append(finding)
    failures = _failures(inspection)
    return findings + ([_journal(inspection, failures)] if failures else [])


def _invalid(error: ConfigError) -> Finding:
    where = f"{error.source}:{error.line}" if error.line else error.source
    return Finding(
        CHECK, "config-invalid", Severity.ERROR, "nethook's configuration is invalid",
        (Evidence(where, f"{error.key}: {error.message}" if error.key else error.message),),
        "every hook then restores only its pre-event snapshot, and `nethook status` and "
        "`apply` stop with status 2: nothing declared is kept",
        f"correct {'the line' if error.line else error.source}; `nethook status` reads the "
        "configuration again and says whether it is valid")


def _nothing_declared(inspection: Inspection) -> Finding:
    """Neither nethook's configuration nor a distro file declares anything to keep."""
    config = inspection.config
    files = config.files if config is not None else ()
    if files:
        where = Evidence(", ".join(files), "declares no address, route or rule")
    elif inspection.ctx.config is not None:
        where = Evidence(str(inspection.ctx.config), "holds no configuration file")
    else:
        where = Evidence(str(inspection.path(CONFIG_DIR) / MAIN_FILE), "missing")
    return Finding(
        CHECK, "nothing-declared", Severity.INFO,
        "nothing is declared to keep",
        (where, Evidence("distro files", "no address, route or rule nethook imports")),
        "the hooks then restore only what they snapshot just before a lease change (Debian's "
        "dhclient enter hook), which a reboot loses",
        f"declare the aliases, rules and routes to keep in {inspection.path(CONFIG_DIR)}/"
        f"{MAIN_FILE} (see nethook.yaml(5)), or in the distro's own files; `nethook import` "
        "shows what those declare")


def _not_kept(inspection: Inspection) -> Finding:
    problems = inspection.import_problems
    return Finding(
        CHECK, "import-problems", Severity.INFO,
        f"{len(problems)} line(s) of the distro's network files are not kept as written",
        tuple(Evidence.at(p.origin, p.message) for p in problems),
        "nethook does not restore what these lines declare",
        "`nethook import` shows them with the reasons; write them the way nethook reads "
        "them, or declare the objects in nethook.yaml")


def _directory(inspection: Inspection, what: str, directory: Path) -> Optional[Finding]:
    try:
        info = directory.lstat()
    except FileNotFoundError:
        return None  # nethook creates it, private, when it first needs it
    mode = stat.S_IMODE(info.st_mode)
    owner = (inspection.owner.uid, inspection.owner.gid)
    problems = []
    if not stat.S_ISDIR(info.st_mode):
        problems.append("not a directory")
    if info.st_uid != owner[0]:
        problems.append(f"owned by uid {info.st_uid}")
    if mode & stat.S_IWOTH:
        problems.append("writable by everyone")
    if not problems:
        return None
    action = None
    if stat.S_ISDIR(info.st_mode):
        # nethook's own directory, named by option rather than under the root
        action = SetPermissions(directory, mode, (info.st_uid, info.st_gid),
                                mode=PRIVATE if mode & stat.S_IWOTH else None,
                                owner=owner if info.st_uid != owner[0] else None,
                                within=directory.parent)
    return Finding(
        CHECK, "directory-unsafe", Severity.ERROR,
        f"nethook's {what} directory {directory} is {', '.join(problems)}",
        (Evidence(str(directory), f"mode {mode:04o}, owner {info.st_uid}:{info.st_gid}"),),
        "nethook runs as root and trusts what it finds there: whoever can write it can plant "
        "a snapshot nethook restores, or hold the lock every hook waits for",
        f"`chown root:root {directory}; chmod {PRIVATE:04o} {directory}`", action)


def _failures(inspection: Inspection) -> List[Dict[str, Any]]:
    """Recent runs with failed operations; none read from a directory nethook does not
    trust (the directory's own finding says why)."""
    since = inspection.now - RECENT
    failed = []
    try:
        entries = list(journal.entries(inspection.ctx.state_dir))
    except UntrustedError:
        return []
    for entry in entries:
        when = journal.time_of(entry.get("time"))
        results = entry.get("results") or []
        if when is not None and when >= since and any(
                isinstance(r, dict) and r.get("status") == "failed" for r in results):
            failed.append(entry)
    return failed


def _journal(inspection: Inspection, failures: List[Dict[str, Any]]) -> Finding:
    path = journal.journal_path(inspection.ctx.state_dir)
    evidence = []
    for entry in failures[-SHOWN:]:
        event = entry.get("event") or {}
        failed = [r for r in entry["results"] if isinstance(r, dict)
                  and r.get("status") == "failed"]
        first = failed[0]
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        evidence.append(Evidence(
            str(path), f"{entry.get('time')} {event.get('ifname') or 'all interfaces'} "
                       f"{event.get('reason', '?')} from {event.get('source', '?')}: "
                       f"{first.get('op')}: {first.get('error')}{more}"))
    return Finding(
        CHECK, "journal-failures", Severity.WARNING,
        f"the journal shows {len(failures)} run(s) with failed operations in the last "
        f"{RECENT.days} days", tuple(evidence),
        "each failure left something declared missing until a later event, or "
        "`nethook apply`, put it back",
        "`nethook status` shows what is missing now; each journal line holds the run's plan "
        "and the kernel's answer to every operation")
