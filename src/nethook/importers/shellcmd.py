"""One ``sh -c`` command line (an ifupdown ``up`` option) split into simple commands, as data.

Nothing is executed. The line is split into words with :mod:`shlex` as ``sh`` would
split it; commands separated by ``;``, ``&&``, ``&`` or ``|`` are each returned; ``||``
followed by ``true``, ``:`` or ``/bin/true`` (the usual "never fail" suffix) is dropped;
redirections (``>/dev/null``, ``2>&1``) are dropped. Variables from ``env`` (ifupdown's
``$IFACE``, ``$LOGICAL``, ``$IF_ADDRESS`` ...) are substituted, in both ``$NAME`` and
``${NAME}`` form, outside single quotes. Anything else that needs the shell (another
variable, command substitution, ``||`` before a real command) raises ``ValueError``
saying so: nethook reports such a line rather than guess what it does.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import List

_NAME = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)")
_SEPARATORS = frozenset({";", "&&", "&", "|", ";;"})
_REDIRECTIONS = frozenset({">", ">>", "<", ">&", "&>", "<&", ">|", "&>>"})
_NO_OP = frozenset({"true", ":", "/bin/true", "/usr/bin/true"})
_FD = frozenset("0123456789")


def substitute(text: str, env: Mapping[str, str]) -> str:
    """``text`` with ``$NAME``/``${NAME}`` from ``env`` replaced outside single quotes."""
    out: List[str] = []
    quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "'" and not quoted:
            quoted = True
        elif char == "'" and quoted:
            quoted = False
        elif char == "\\" and not quoted:
            out.append(text[index:index + 2])
            index += 2
            continue
        elif char == "`" and not quoted:
            raise ValueError("it uses command substitution, which nethook does not run")
        elif char == "$" and not quoted:
            match = _NAME.match(text, index + 1)
            name = (match.group(1) or match.group(2)) if match else None
            if name is None or name not in env:
                shown = match.group(0) if match else text[index + 1:index + 2]
                raise ValueError(f"it uses ${shown}, which nethook does not evaluate")
            assert match is not None
            out.append(env[name])
            index = match.end()
            continue
        out.append(char)
        index += 1
    return "".join(out)


def split(text: str, env: Mapping[str, str]) -> List[List[str]]:
    """The simple commands of one command line, each as its argv."""
    lexer = shlex.shlex(substitute(text, env), posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError as exc:  # an unclosed quote
        raise ValueError(f"it cannot be split into words ({exc})") from None
    commands: List[List[str]] = [[]]
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token in _SEPARATORS:
            commands.append([])
        elif token == "||":
            rest = tokens[index:index + 1]
            if not rest or rest[0] not in _NO_OP:
                raise ValueError("'||' runs a command only when the one before fails; "
                                 "nethook cannot tell which one ran")
            index += 1
        elif token in _REDIRECTIONS:
            current = commands[-1]
            if current and current[-1] in _FD:
                current.pop()  # the 2 of 2>/dev/null
            index += 1  # the target
        else:
            commands[-1].append(token)
    return [argv for argv in commands if argv]
