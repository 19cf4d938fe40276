"""The words of the ``import`` key: which distro sources a configuration may import.

Here, not in :mod:`nethook.config.schema`, so that what only needs the words (the
importers' table, the cached configuration, the command line) does not load PyYAML.
"""

from __future__ import annotations

IMPORT_AUTO = "auto"
IMPORT_NONE = "none"
IMPORT_SOURCES = ("ifcfg", "ifupdown", "netplan")
