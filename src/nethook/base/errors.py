"""Typed errors, one per layer. Only ``cli.main`` and the hook boundary catch broadly."""

from __future__ import annotations


class NethookError(Exception):
    """Base of every error nethook raises on purpose."""


class ConfigError(NethookError):
    """A configuration file is invalid. The message names the file, line and key."""

    def __init__(self, source: str, line: int, key: str, message: str) -> None:
        self.source = source
        self.line = line
        self.key = key
        self.message = message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


class UsageError(NethookError):
    """The command line asks for something that cannot be (exit status 2)."""


class ObserveError(NethookError):
    """The kernel state could not be read; nothing may be planned from it."""


class LockTimeout(NethookError):
    """Another nethook run held the lock for longer than we may wait."""


class StateError(NethookError):
    """A state file (ownership record, journal, snapshot) is unreadable or corrupt."""
