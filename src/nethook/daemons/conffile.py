"""What every daemon configuration reader here shares: reading a file and its includes.

A file that cannot be read is remembered (the first reason wins) and never taken for an
empty one; an include that names a missing file is a problem worth reporting.
"""

from __future__ import annotations

from typing import Callable, List, Optional

Reader = Callable[[str], Optional[str]]  # a path to its text; None: no such file


class IncludingLoader:
    """Subclasses implement ``parse``; ``file`` reads a path and hands its text over."""

    def __init__(self, read: Reader) -> None:
        self.read = read
        self.files: List[str] = []
        self.problems: List[str] = []
        self.unreadable: Optional[str] = None

    def file(self, path: str, depth: int) -> None:
        try:
            text = self.read(path)
        except OSError as exc:
            self.unreadable = self.unreadable or f"cannot read {path}: {exc.strerror}"
            return
        if text is None:
            problem = self.missing_include(path) if depth else None
            if problem:
                self.problems.append(problem)
            return
        self.files.append(path)
        self.parse(text, path, depth)

    def missing_include(self, path: str) -> Optional[str]:
        return f"{path}: included but missing"

    def parse(self, text: str, path: str, depth: int) -> None:
        raise NotImplementedError
