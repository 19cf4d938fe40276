"""Listing a directory of configuration files: absent is empty, unreadable is an error.

nethook's own directories are :mod:`nethook.base.safefiles`'."""

from __future__ import annotations

from pathlib import Path
from typing import List

from nethook.base.errors import ConfigError


def entry_names(directory: Path) -> List[str]:
    """The sorted names in ``directory``; none if it is absent, ConfigError if unreadable."""
    try:
        return sorted(entry.name for entry in directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise ConfigError(str(directory), 0, "", f"cannot read: {exc.strerror}") from exc
