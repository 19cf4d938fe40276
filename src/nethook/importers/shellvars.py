"""``KEY=VALUE`` files written in shell syntax (ifcfg, old-style route files), read as data.

initscripts *sources* these files with bash; nethook never executes them. Each line is
split with :mod:`shlex` the way the shell would split words (quotes, backslashes,
``# comments``), a quoted value may run over several lines, and a line ending in a
backslash continues on the next. A later assignment replaces an earlier one. What is
not an assignment (a command, ``source other-file``) is reported and skipped; ``export``
in front of assignments is accepted, and so are several assignments on one line separated
by ``;`` or ``&&`` (``IPADDR2=10.0.1.5; PREFIX2=24``), which bash runs one after the
other. A value that would need the shell to expand it (``$VAR``, ``${VAR}``, a backquote,
outside single quotes) is kept marked, so that the reader of that key reports it instead
of using the raw text.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from nethook.importers.base import Problem
from nethook.model.objects import Origin

_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z", re.DOTALL)
_TRUE = frozenset({"y", "yes", "true", "on", "1"})
_FALSE = frozenset({"n", "no", "false", "off", "0"})
_SEPARATORS = frozenset({";", "&&"})


@dataclass(frozen=True)
class Var:
    value: str
    origin: Origin
    expands: bool = False  # the shell would expand something in it


class ShellVars:
    """The assignments of one file, with where each was made."""

    def __init__(self, source: str, variables: Dict[str, Var]) -> None:
        self.source = source
        self.variables = variables

    def var(self, name: str) -> Optional[Var]:
        """The assignment of ``name``; None when unset or empty (what ``[ -z ]`` tests)."""
        found = self.variables.get(name)
        return found if found is not None and found.value != "" else None

    def get(self, name: str) -> Optional[str]:
        found = self.var(name)
        return found.value if found is not None else None

    def is_false(self, name: str) -> bool:
        """initscripts' is_false: no, false, off, n, 0 in any case."""
        return (self.get(name) or "").lower() in _FALSE

    def is_true(self, name: str) -> bool:
        return (self.get(name) or "").lower() in _TRUE

    def origin(self, name: str) -> Origin:
        found = self.variables.get(name)
        return found.origin if found is not None else Origin(self.source)


def _expands(text: str) -> bool:
    """Whether the shell would expand anything in ``text`` (outside single quotes)."""
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted:
            quoted = char != "'"
        elif char == "\\":
            escaped = True
        elif char == "'":
            quoted = True
        elif char in "$`":
            return True
    return False


def _logical_lines(text: str) -> List[Tuple[int, str]]:
    """Lines joined where a backslash continues them; numbered by their first line."""
    joined: List[Tuple[int, str]] = []
    pending: Optional[Tuple[int, str]] = None
    for number, line in enumerate(text.splitlines(), start=1):
        start, body = pending if pending is not None else (number, "")
        body += line
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = (start, body[:-1])
            continue
        pending = None
        joined.append((start, body))
    if pending is not None:
        joined.append(pending)
    return joined


def parse(text: str, source: str) -> Tuple[ShellVars, List[Problem]]:
    """Every assignment in ``text``; lines that are not assignments become problems."""
    variables: Dict[str, Var] = {}
    problems: List[Problem] = []
    lines = _logical_lines(text)
    index = 0
    while index < len(lines):
        number, chunk = lines[index]
        index += 1
        while True:
            try:
                words = _words(chunk)
                break
            except ValueError:  # a quote still open: the value goes on
                if index >= len(lines):
                    words = []
                    problems.append(Problem(Origin(source, number),
                                            "a quote is never closed; the rest of the file "
                                            "is not read"))
                    break
                chunk += "\n" + lines[index][1]
                index += 1
        _assign(words, chunk, Origin(source, number), variables, problems)
    return ShellVars(source, variables), problems


def _words(chunk: str) -> List[str]:
    """The shell words of a line; ``;``, ``&&`` and the like stand alone as words."""
    lexer = shlex.shlex(chunk, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    return list(lexer)


def _commands(words: List[str]) -> List[List[str]]:
    """The simple commands of a line: ``A=1; B=2`` is two, as bash runs it."""
    commands: List[List[str]] = [[]]
    for word in words:
        if word in _SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(word)
    return [command for command in commands if command] or [[]]


def _assign(words: List[str], raw: str, origin: Origin, variables: Dict[str, Var],
            problems: List[Problem]) -> None:
    commands = [c[1:] if c and c[0] == "export" else c for c in _commands(words)]
    matches = [[_ASSIGNMENT.match(word) for word in command] for command in commands]
    if not all(all(found) for found in matches):
        problems.append(Problem(origin, f"'{raw.strip()}' is not a KEY=VALUE assignment; "
                                        "line ignored"))
        return
    expands = _expands(raw)
    for match in (m for found in matches for m in found):
        assert match is not None
        variables[match.group(1)] = Var(match.group(2), origin, expands)
