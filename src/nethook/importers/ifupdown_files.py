"""``/etc/network/interfaces`` and what it sources, read into stanzas the way ifupdown does.

* Lines whose first non-blank character is ``#`` are comments (there are no end-of-line
  comments); a line ending in a backslash continues on the next.
* ``iface``, ``template`` (ifupdown-ng), ``mapping``, ``auto``, ``allow-*``, ``rename``,
  ``no-auto-down``, ``no-scripts``, ``source`` and ``source-directory`` start a new
  stanza; other lines are options of the current ``iface`` (or ``mapping``) stanza.
* ``source PATTERN`` reads the files the shell pattern matches, in name order;
  ``source-directory DIR`` reads every file in DIR (DIR may be a pattern) whose name
  matches ``^[a-zA-Z0-9_-]+$``, run-parts' rule, so ``eth0.cfg`` or ``eth0~`` there are
  not read. A relative path is relative to the directory of the file that names it; an
  absolute one is taken under the filesystem root. A file already read is not read again.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Set, Tuple

from nethook.base.errors import ConfigError
from nethook.base.files import entry_names
from nethook.importers.base import Collector, is_file, read_text
from nethook.model.objects import Origin

INTERFACES = "etc/network/interfaces"
_RUN_PARTS_NAME = re.compile(r"[a-zA-Z0-9_-]+\Z")
_STANZA_WORDS = frozenset({"iface", "template", "mapping", "auto", "rename", "no-auto-down",
                           "no-scripts", "source", "source-directory"})
_GLOB_CHARS = frozenset("*?[")
MAX_DEPTH = 16


@dataclass
class Stanza:
    """One ``iface NAME [FAMILY METHOD] [inherits OTHER]`` with its options in order.

    ifupdown2 and ifupdown-ng accept ``iface NAME`` alone: family and method are then
    empty (``use dhcp`` and the addresses say what the interface gets)."""

    name: str
    family: str
    method: str
    origin: Origin
    inherits: Optional[str] = None
    options: List[Tuple[str, str, Origin]] = field(default_factory=list)
    template: bool = False  # ifupdown-ng's `template NAME`: inherited, never brought up

    def values(self, key: str) -> List[Tuple[str, Origin]]:
        return [(value, origin) for k, value, origin in self.options if k == key]


def _logical_lines(text: str) -> List[Tuple[int, str]]:
    """Comment-free lines, continuations joined, numbered by their first line."""
    found: List[Tuple[int, str]] = []
    pending: Optional[Tuple[int, str]] = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if pending is None and raw.lstrip().startswith("#"):
            continue
        start, body = pending if pending is not None else (number, "")
        if raw.endswith("\\"):
            pending = (start, body + raw[:-1])
            continue
        pending = None
        if (body + raw).strip():
            found.append((start, (body + raw).strip()))
    if pending is not None and pending[1].strip():
        found.append((pending[0], pending[1].strip()))
    return found


class Reader:
    """Reads one interfaces file and everything it sources, collecting stanzas in order."""

    def __init__(self, root: Path, out: Collector) -> None:
        self.root = root
        self.out = out
        self.stanzas: List[Stanza] = []
        self.seen: Set[Path] = set()
        self.auto: Set[str] = set()  # names on auto and allow-* lines

    def read(self, path: Path, depth: int = 0) -> None:
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
            raise ConfigError(str(path), 0, "", f"cannot read: {exc}") from exc
        if resolved in self.seen:
            self.out.problem(Origin(str(path)), "already read; not read again")
            return
        self.seen.add(resolved)
        text = read_text(path)
        if text is None:
            self.out.problem(Origin(str(path)), "no such file; nothing read from it")
            return
        self.out.files.append(str(path))
        current: Optional[Stanza] = None
        ignoring = False  # in a mapping stanza, or an iface stanza that could not be read
        for number, line in _logical_lines(text):
            origin = Origin(str(path), number)
            parts = line.split(None, 1)
            word, rest = parts[0], parts[1] if len(parts) > 1 else ""
            if word in _STANZA_WORDS or word.startswith("allow-"):
                current, ignoring = self._stanza(word, rest, origin, path, depth)
            elif current is not None:
                current.options.append((word, rest, origin))
            elif not ignoring:
                self.out.problem(origin, f"'{line}' is outside any iface stanza; ignored")

    def _stanza(self, word: str, rest: str, origin: Origin, path: Path,
                depth: int) -> Tuple[Optional[Stanza], bool]:
        """Start a stanza: the iface stanza options now go to, and whether they are ignored."""
        if word in ("iface", "template"):  # ifupdown-ng's templates are stanzas too
            stanza = self._iface(rest, origin)
            if stanza is not None:
                stanza.template = word == "template"
            return stanza, stanza is None  # a broken stanza's options are not reported again
        if word == "auto" or word.startswith("allow-"):
            self.auto.update(rest.split())
        if word in ("source", "source-directory"):
            if depth >= MAX_DEPTH:
                self.out.problem(origin, f"{word} nested more than {MAX_DEPTH} deep; not read")
                return None, False
            for pattern in rest.split():
                self._include(word, pattern, path.parent, depth + 1, origin)
        return None, word == "mapping"

    def _iface(self, rest: str, origin: Origin) -> Optional[Stanza]:
        """``iface NAME [FAMILY METHOD [extra...]] [inherits TEMPLATE]``, as ifupdown, ifupdown2
        and ifupdown-ng take it: words after the method are ignored (ifup says so and goes
        on), and ``iface NAME inherits TEMPLATE`` takes family and method from the template."""
        words = rest.split()
        inherits = None
        if len(words) >= 3 and words[-2] == "inherits":
            inherits, words = words[-1], words[:-2]
        if len(words) == 2 or not words:
            self.out.problem(origin, f"'iface {rest}' is not 'iface NAME [FAMILY METHOD]'; "
                                     "stanza ignored")
            return None
        family, method = (words[1], words[2]) if len(words) >= 3 else ("", "")
        stanza = Stanza(words[0], family, method, origin, inherits)
        self.stanzas.append(stanza)
        return stanza

    def _include(self, word: str, pattern: str, here: Path, depth: int, origin: Origin) -> None:
        base = self.root if pattern.startswith("/") else here
        relative = pattern.lstrip("/")
        _fixed_part(base, relative)  # glob hides a directory it cannot read: look first
        matches = sorted(glob.glob(glob.escape(str(base)) + "/" + relative))
        if not matches and not _GLOB_CHARS.intersection(pattern):
            self.out.problem(origin, f"{word} {pattern}: no such "
                                     f"{'file' if word == 'source' else 'directory'}")
        for match in matches:
            target = Path(match)
            if word == "source":
                if is_file(target):
                    self.read(target, depth)
                else:
                    self.out.problem(origin, f"source {match}: not a file; not read")
                continue
            for name in entry_names(target):
                if _RUN_PARTS_NAME.match(name) and is_file(target / name):
                    self.read(target / name, depth)


def _fixed_part(base: Path, relative: str) -> None:
    """List the deepest directory of a pattern before its first wildcard, so that one that
    cannot be read raises ConfigError instead of matching nothing."""
    directory = base
    for part in relative.split("/")[:-1]:
        if _GLOB_CHARS.intersection(part):
            break
        directory = directory / part
    entry_names(directory)
