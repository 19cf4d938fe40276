"""Small file helpers: private directories and atomic replacement."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import List

from nethook.base.errors import ConfigError


def private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) if needed; nethook's state is root's business only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def write_atomic(path: Path, data: str) -> None:
    """Replace ``path`` so that a reader sees the old or the new content, never a mix."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def entry_names(directory: Path) -> List[str]:
    """The sorted names in ``directory``; none if it is absent, ConfigError if unreadable."""
    try:
        return sorted(entry.name for entry in directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise ConfigError(str(directory), 0, "", f"cannot read: {exc.strerror}") from exc
