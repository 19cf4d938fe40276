"""The report, for people (text) and for machines (``--json``)."""

from __future__ import annotations

import textwrap
from collections import Counter
from typing import Any, Dict, List, Sequence, Tuple

from nethook.doctor.findings import Finding, Severity

WIDTH = 100
INDENT = " " * 12


def _counts(findings: Sequence[Finding]) -> Dict[str, int]:
    counted = Counter(f.severity.value for f in findings)
    return {s.value: counted.get(s.value, 0) for s in Severity}


def _headline(findings: Sequence[Finding], checks: int, root: str) -> str:
    counts = _counts(findings)
    scope = f"({checks} checks, root {root})"
    if not counts["error"] and not counts["warning"]:
        notes = f"; {counts['info']} note(s)" if counts["info"] else ""
        return f"nethook doctor: nothing wrong found{notes} {scope}"
    parts = [f"{counts[s]} {name}" for s, name in (("error", "error(s)"),
                                                   ("warning", "warning(s)"),
                                                   ("info", "note(s)")) if counts[s]]
    return f"nethook doctor: {', '.join(parts)} {scope}"


def printable(text: str) -> str:
    """Control characters escaped (a newline in a file's value becomes ``\\n``): what the
    files hold must not forge lines of the report, or move the terminal's cursor."""
    return text if text.isprintable() else "".join(
        c if c.isprintable() else repr(c)[1:-1] for c in text)


def _wrapped(label: str, text: str) -> List[str]:
    return textwrap.wrap(printable(text), WIDTH, initial_indent=f"  {label:<9} ",
                         subsequent_indent=INDENT, break_on_hyphens=False,
                         break_long_words=False)


def _finding(finding: Finding, fix: bool) -> List[str]:
    lines = [f"{finding.severity.value.upper():<8} {finding.check}: "
             f"{printable(finding.summary)}"]
    for index, evidence in enumerate(finding.evidence):
        lines.append(f"  {'evidence' if index == 0 else '':<9} {printable(str(evidence))}")
    lines += _wrapped("why", finding.why) + _wrapped("fix", finding.fix)
    if finding.action is not None and not fix:
        lines += _wrapped("--fix", finding.action.describe())
    return lines


def text(findings: Sequence[Finding], failed: Sequence[Tuple[str, str]],
         checks: Sequence[str], root: str, fix: bool) -> str:
    lines = [_headline(findings, len(checks), root)]
    for finding in findings:
        lines += ["", *_finding(finding, fix)]
    for name, why in failed:
        lines += ["", f"COULD NOT RUN {name}: {printable(why)}"]
    return "\n".join(lines) + "\n"


def finding_dict(finding: Finding) -> Dict[str, Any]:
    return {"check": finding.check, "code": finding.code,
            "severity": finding.severity.value, "summary": finding.summary,
            "evidence": [{"where": e.where, "what": e.what} for e in finding.evidence],
            "why": finding.why, "fix": finding.fix,
            "fix_action": finding.action.describe() if finding.action else None}


def as_dict(findings: Sequence[Finding], failed: Sequence[Tuple[str, str]],
            checks: Sequence[str], root: str) -> Dict[str, Any]:
    return {"root": root, "checks": list(checks), "counts": _counts(findings),
            "could_not_run": [{"check": name, "error": why} for name, why in failed],
            "findings": [finding_dict(f) for f in findings]}
