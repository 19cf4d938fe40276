"""nethook's own directories and the files in them, opened so that nobody can redirect them.

nethook runs as root inside dhclient-script, NetworkManager and the watcher, and keeps its
state in two directories (``/run/nethook`` and ``/var/lib/nethook`` by default). Every
file in them is reached through this module, and only this module:

* a directory is **trusted** when it is a real directory (not a symbolic link), owned by
  the user nethook runs as (root), and writable by no one else; each directory above it
  is owned by root and writable by no one else unless it is sticky (``/tmp``), and a
  symbolic link on the way is root's own. nethook creates what is missing, mode 0700,
  one level at a time. A check that fails raises :class:`UntrustedError`, which names
  the directory and the reason, before anything in it is read or written;
* a file is opened relative to a descriptor of its trusted directory, with
  ``O_NOFOLLOW | O_CLOEXEC``, and must be a regular file owned by that user: a planted
  symbolic link, FIFO or someone else's file is refused, never followed;
* a write goes to a fresh temporary file (``O_EXCL``), is flushed to disk and renamed
  over the old one, so a reader sees the old content or the new, never a mix.

Names inside a directory are single path components: never empty, ``.``, ``..`` or with
a ``/``, whatever the caller was told.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import List, Optional, Tuple

from nethook.base.errors import NethookError

PRIVATE = 0o700
FILE_MODE = 0o600
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_GROUP_OR_OTHER_WRITE = stat.S_IWGRP | stat.S_IWOTH


class UntrustedError(NethookError):
    """A directory or file nethook will not use; the message names it and says why."""


def _owner() -> int:
    return os.geteuid()


def check_name(name: str) -> str:
    """A single path component, or UntrustedError."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise UntrustedError(f"{name!r} is not a file name nethook uses")
    return name


def _check_ancestor(path: Path, info: os.stat_result) -> None:
    if stat.S_ISLNK(info.st_mode):
        if info.st_uid != 0:
            raise UntrustedError(f"{path} is a symbolic link owned by uid {info.st_uid}")
        return
    if not stat.S_ISDIR(info.st_mode):
        raise UntrustedError(f"{path} is not a directory")
    if info.st_uid not in (0, _owner()):
        raise UntrustedError(f"{path} is owned by uid {info.st_uid}")
    if info.st_mode & _GROUP_OR_OTHER_WRITE and not info.st_mode & stat.S_ISVTX:
        raise UntrustedError(f"{path} is writable by others than its owner")


def _check_own(path: Path, info: os.stat_result) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise UntrustedError(f"{path} is a symbolic link, not nethook's directory")
    if not stat.S_ISDIR(info.st_mode):
        raise UntrustedError(f"{path} is not a directory")
    if info.st_uid != _owner():
        raise UntrustedError(f"{path} is owned by uid {info.st_uid}, not {_owner()}")
    if info.st_mode & _GROUP_OR_OTHER_WRITE:
        raise UntrustedError(f"{path} is writable by others (mode "
                             f"{stat.S_IMODE(info.st_mode):04o}); nethook's directories "
                             "are its own (0700)")


def _ancestors(path: Path) -> Iterator[Path]:
    """``/``, then every directory down to ``path``'s parent, as written."""
    parts = path.parts
    for index in range(1, len(parts)):
        yield Path(*parts[:index])


def _lstat(path: Path) -> Optional[os.stat_result]:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UntrustedError(f"cannot look at {path}: {exc.strerror}") from None


class TrustedDir:
    """An open, checked directory of nethook's. Use as a context manager."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def open(cls, path: Path, create: bool = True) -> TrustedDir:
        """Check ``path`` and the directories above it; create it (0700) if missing."""
        path = Path(os.path.abspath(path))
        for ancestor in _ancestors(path):
            _check_ancestor(ancestor, _made(ancestor, create))
        info = _made(path, create)
        _check_own(path, info)
        try:
            fd = os.open(path, DIRECTORY_FLAGS)
        except OSError as exc:
            raise UntrustedError(f"cannot open {path}: {exc.strerror}") from None
        return cls._checked(path, fd, (info.st_dev, info.st_ino))

    @classmethod
    def _checked(cls, path: Path, fd: int,
                 expected: Optional[Tuple[int, int]] = None) -> TrustedDir:
        """The open directory is the one checked (nothing was swapped in between)."""
        try:
            info = os.fstat(fd)
            _check_own(path, info)
            if expected is not None and (info.st_dev, info.st_ino) != expected:
                raise UntrustedError(f"{path} changed while nethook opened it")
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    def subdir(self, name: str, create: bool = True) -> TrustedDir:
        """A directory inside this one, checked the same way (created 0700 if missing)."""
        check_name(name)
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, PRIVATE, dir_fd=self.fd)
        try:
            fd = os.open(name, DIRECTORY_FLAGS, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UntrustedError(f"{self.path / name} is not a directory of nethook's "
                                     "(a symbolic link or a file)") from None
            raise
        return TrustedDir._checked(self.path / name, fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> TrustedDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- files -----------------------------------------------------------------------------

    def open_file(self, name: str, flags: int, mode: int = FILE_MODE) -> int:
        """A descriptor of a regular file of nethook's in this directory (O_NOFOLLOW)."""
        check_name(name)
        try:
            fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UntrustedError(f"{self.path / name} is a symbolic link; nethook "
                                     "follows none in its directories") from None
            raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise UntrustedError(f"{self.path / name} is not a regular file")
            if info.st_uid != _owner():
                raise UntrustedError(f"{self.path / name} is owned by uid {info.st_uid}, "
                                     f"not {_owner()}")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def read(self, name: str, limit: int) -> Optional[bytes]:
        """A file's content; None when it does not exist. Over ``limit`` bytes is refused
        (UntrustedError) without reading it."""
        try:
            fd = self.open_file(name, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise UntrustedError(f"{self.path / name} is {size} bytes, more than the "
                                     f"{limit} nethook reads")
            return handle.read(limit + 1)[:limit]

    def write(self, name: str, data: bytes, durable: bool = True) -> None:
        """Replace ``name`` atomically: a new file (O_EXCL), flushed, renamed over it."""
        check_name(name)
        temporary = f".{name}.{os.urandom(6).hex()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                     | os.O_CLOEXEC, FILE_MODE, dir_fd=self.fd)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if durable:
                    os.fsync(handle.fileno())
            os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=self.fd)
            raise
        if durable:
            os.fsync(self.fd)

    def append(self, name: str, data: bytes) -> int:
        """Append (O_APPEND: appends never interleave); the file's size afterwards."""
        fd = self.open_file(name, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            os.write(fd, data)
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def remove(self, name: str) -> None:
        """Remove a file if it is there."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(check_name(name), dir_fd=self.fd)

    def move(self, name: str, target: TrustedDir, new_name: str) -> bool:
        """Rename into ``target`` (atomically); False when ``name`` is not there."""
        try:
            os.replace(check_name(name), check_name(new_name), src_dir_fd=self.fd,
                       dst_dir_fd=target.fd)
        except FileNotFoundError:
            return False
        return True

    def names(self) -> List[str]:
        """The regular files' names here (dot files, the temporary ones, left out)."""
        found = []
        for name in sorted(os.listdir(self.fd)):
            if name.startswith("."):
                continue
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISREG(os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mode):
                    found.append(name)
        return found

    def mtime_ns(self) -> int:
        return os.fstat(self.fd).st_mtime_ns


def _made(path: Path, create: bool) -> os.stat_result:
    """``path`` as it is (lstat), made first (0700) when it is missing and ``create``."""
    info = _lstat(path)
    if info is not None:
        return info
    if not create:
        raise FileNotFoundError(errno.ENOENT, "no such directory", str(path))
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, PRIVATE)
    return os.lstat(path)


def open_path(base: Path, parts: Sequence[str], create: bool = True) -> TrustedDir:
    """``base`` (a trusted directory: the run or the state directory), then each of
    ``parts`` inside it, checked at every level. The caller closes the result."""
    current = TrustedDir.open(base, create)
    try:
        for part in parts:
            inner = current.subdir(part, create)
            current.close()
            current = inner
    except BaseException:
        current.close()
        raise
    return current
