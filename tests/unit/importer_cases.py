"""Helpers for the importer tests: write a small tree of distro files, read it, render it.

A case is a mapping of paths (under the root) to file contents; the result renders one
line per object, ``FILE:LINE kind description`` (rules also name the interface they are
restored with), and one line per problem, ``FILE:LINE! message``, with file names only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from nethook.config.rt_tables import RouteTables, load_tables
from nethook.importers.base import Imported
from nethook.model.objects import KernelObject, Origin, Rule

Files = Dict[str, str]
Reader = Callable[[Path, RouteTables], Imported]

RT_TABLES = "100\tuplink\n200\tstorage\n"


def write_tree(root: Path, files: Files) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    tables = root / "etc" / "iproute2" / "rt_tables"
    if not tables.exists():
        tables.parent.mkdir(parents=True, exist_ok=True)
        tables.write_text(RT_TABLES)
    return root


def where(origin: Origin) -> str:
    name = Path(origin.source).name
    return f"{name}:{origin.line}" if origin.line else name


def describe(obj: KernelObject) -> str:
    assert obj.origin is not None
    kind = type(obj).__name__.lower()
    on = f" on {obj.ifname}" if isinstance(obj, Rule) else ""
    return f"{where(obj.origin)} {kind} {obj.describe()}{on}"


def render(imported: Imported) -> List[str]:
    return ([describe(obj) for obj in imported.objects]
            + [f"{where(p.origin)}! {p.message}" for p in imported.problems])


def run_case(tmp_path: Path, reader: Reader, files: Files) -> Tuple[Imported, List[str]]:
    root = write_tree(tmp_path / "root", files)
    imported = reader(root, load_tables(root))
    return imported, render(imported)


def case_lines(tmp_path: Path, reader: Reader, files: Files) -> List[str]:
    """The rendered result, with the root shown as ``ROOT`` and YAML syntax errors as
    ``invalid YAML: ...`` (libyaml and the pure-Python parser word them their own way)."""
    _imported, lines = run_case(tmp_path, reader, files)
    root = str(tmp_path / "root")
    return [re.sub(r"invalid YAML: .*; file", "invalid YAML: ...; file", line)
            .replace(root, "ROOT") for line in lines]
