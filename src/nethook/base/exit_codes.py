"""The documented exit statuses of the ``nethook`` command (nethook(8), EXIT STATUS)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # converged: nothing missing, everything applied
    INCOMPLETE = 1  # drift: something could not be applied, or is still missing
    USAGE = 2  # bad command line, invalid configuration, or an unknown interface
    CANNOT_CHECK = 3  # not root, nethook's directories or the kernel unreadable
