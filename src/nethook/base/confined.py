"""Changing files under a root without leaving it, whatever links are planted on the way.

A path is first resolved the way a reader of it resolves it (``realpath``); it must land
inside the root's own resolved path, or it is refused. Its directory is then opened from
the root down, one component at a time, never following a link: a link swapped in after
the check makes the walk fail instead of leading elsewhere. The file itself is opened or
created through that directory's descriptor, never through a link either: a copy is
created exclusively (a name already there, a link included, is refused), a replacement
is written to a new file and renamed over the old name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import List, Tuple

from nethook.base.errors import NethookError

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted where a file was expected must not hang the open.
_ENTRY = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Unsafe(NethookError):
    """The path leaves the root, or a link stands where a file or directory should."""


def _inside(root: Path, directory: Path) -> Tuple[str, Tuple[str, ...]]:
    """The root's real path and the components of ``directory`` below it."""
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(directory))
    if real != real_root and real_root not in real.parents:
        raise Unsafe(f"{directory} leads out of {root}: it resolves to {real}")
    return str(real_root), real.relative_to(real_root).parts


@contextlib.contextmanager
def directory(root: Path, path: Path) -> Iterator[int]:
    """A descriptor of the directory ``path``, which must resolve inside ``root``; every
    component below the root is opened without following links."""
    real_root, parts = _inside(root, path)
    fd = os.open(real_root, _DIRECTORY)
    try:
        for part in parts:
            try:
                inner = os.open(part, _DIRECTORY, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise Unsafe(f"{path}: {part} was replaced by a link or a file on "
                                 "the way") from exc
                raise
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def open_entry(folder: int, name: str, shown: Path) -> int:
    """``name`` in the directory ``folder``, opened read-only and not through a link."""
    try:
        return os.open(name, _ENTRY, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Unsafe(f"{shown} is a symbolic link; nethook does not write through "
                         "links") from exc
        raise


def read_regular(folder: int, name: str, shown: Path) -> Tuple[bytes, os.stat_result]:
    """The content and status of the regular file ``name`` in ``folder``."""
    fd = open_entry(folder, name, shown)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unsafe(f"{shown} is not a regular file")
        chunks: List[bytes] = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks), info
            chunks.append(chunk)
    finally:
        os.close(fd)


def create(folder: int, name: str, data: bytes, like: os.stat_result, shown: Path) -> None:
    """A new file ``name`` holding ``data``, with the mode, owner and times of ``like``.
    A name already there is refused, a link (even a dangling one) included."""
    try:
        fd = os.open(name, _NEW, 0o600, dir_fd=folder)
    except FileExistsError as exc:
        raise Unsafe(f"{shown} is already there; nethook does not overwrite it") from exc
    try:
        _fill(fd, data, like)
        os.utime(fd, ns=(like.st_atime_ns, like.st_mtime_ns))
    except BaseException:
        os.close(fd)
        os.unlink(name, dir_fd=folder)
        raise
    os.close(fd)


def replace(folder: int, name: str, data: bytes, like: os.stat_result) -> None:
    """Replace ``name`` at once (a reader sees the old or the new content) by a new file
    holding ``data``, with the mode and owner of ``like``. A link at ``name`` is replaced,
    never followed."""
    temporary = f".{name}.nethook-{secrets.token_hex(4)}"
    fd = os.open(temporary, _NEW, 0o600, dir_fd=folder)
    try:
        _fill(fd, data, like)
        os.close(fd)
        fd = -1
        os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=folder)
        raise


def _fill(fd: int, data: bytes, like: os.stat_result) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    if (like.st_uid, like.st_gid) != (os.geteuid(), os.getegid()):
        os.fchown(fd, like.st_uid, like.st_gid)
    os.fchmod(fd, stat.S_IMODE(like.st_mode))  # after chown, which clears set-id bits
    os.fsync(fd)
