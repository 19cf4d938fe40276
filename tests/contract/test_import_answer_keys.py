"""nethook's importers against the distro's own tools, as answer keys (issue 16).

Each tree under tests/fixtures/importers/answer-keys/TOOL/CASE is read twice: by nethook's
importer, and by TOOL itself, which configures a throw-away network namespace that holds
the links the case's ANSWER file names (lab/answer_keys.py says how each tool runs). The
kernel's state is the answer. Every object the tool configured must be one nethook
imports, or be listed in ANSWER as ``not kept: OBJECT  # WHY``, where WHY is ``primary``
(the interface's own static primary, which belongs to the tool), ``static`` (a netplan
interface without DHCP, which its renderer keeps) or words of the problem nethook reports
for it (a documented refusal). nethook must import nothing the tool does not configure.

ifupdown2, ifupdown-ng and netplan.io are unpacked from Debian's packages into a cache
(never installed). Where they cannot be fetched the test is skipped, and fails under
NETHOOK_REQUIRE_NETNS=1 (``make test``), like the kernel tests.
"""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from lab import answer_keys
from lab.netns import namespace, require
from nethook.config.rt_tables import load_tables
from nethook.importers import ifupdown, netplan
from nethook.importers.base import Imported

pytestmark = pytest.mark.privileged

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "importers" / "answer-keys"
IMPORTERS = {"ifupdown": ifupdown.read, "ifupdown2": ifupdown.read,
             "ifupdown-ng": ifupdown.read, "netplan": netplan.read}
PLAIN_REASONS = ("primary", "static")


@dataclass(frozen=True)
class Expected:
    links: Tuple[str, ...]
    not_kept: Dict[str, str]  # object -> why


def expected(case: Path) -> Expected:
    links: Tuple[str, ...] = ()
    not_kept: Dict[str, str] = {}
    for line in (case / "ANSWER").read_text().splitlines():
        if line.startswith("links:"):
            links = tuple(line.split(":", 1)[1].split())
        elif line.startswith("not kept:"):
            obj, _, why = line.split(":", 1)[1].partition("#")
            not_kept[obj.strip()] = why.strip()
    return Expected(links, not_kept)


def cases() -> List[Tuple[str, str]]:
    return [(tool, case.name) for tool in answer_keys.TOOLS
            for case in sorted((CASES / tool).iterdir())]


@functools.cache
def _unpacked() -> Optional[str]:
    if shutil.which("ifup") is None:
        return "ifup (Debian's ifupdown) is not installed; make deps installs it"
    return answer_keys.unpack(answer_keys.default_cache())


@pytest.fixture
def tools() -> Path:
    problem = _unpacked()
    require(None if problem is None else f"the answer-key tools are missing: {problem}")
    return answer_keys.default_cache()


def nethook_import(tool: str, tree: Path) -> Tuple[List[str], Imported]:
    imported = IMPORTERS[tool](tree, load_tables(tree))
    return sorted({answer_keys.canonical(o) for o in imported.objects}), imported


@pytest.mark.parametrize("tool, case", cases())
def test_nethook_agrees_with_the_tool(tool: str, case: str, tools: Path,
                                      tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(CASES / tool / case, tree)
    want = expected(tree)
    ours, imported = nethook_import(tool, tree)
    with namespace() as ns:
        answer_keys.add_links(ns, want.links)
        answer = answer_keys.TOOLS[tool](ns, tree, tools, tmp_path)
        theirs = answer_keys.observe(ns, want.links)
    context = f"{tool} said:\n{answer.log}\nfailed: {answer.failed}"
    assert answer.failed == [], context
    assert sorted(set(ours) - set(theirs)) == [], context
    missing = {obj: want.not_kept.get(obj, "(not listed)")
               for obj in sorted(set(theirs) - set(ours))}
    assert missing == want.not_kept, context
    problems = [p.message for p in imported.problems]
    for obj, why in want.not_kept.items():
        assert why in PLAIN_REASONS or any(why in p for p in problems), (obj, why, problems)
