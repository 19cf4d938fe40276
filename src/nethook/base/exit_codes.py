"""The documented exit statuses of the ``nethook`` command."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # converged: nothing missing, everything applied
    INCOMPLETE = 1  # something could not be applied, or is still missing
    USAGE = 2  # bad command line or invalid configuration: nothing was applied
