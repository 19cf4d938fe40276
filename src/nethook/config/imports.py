"""The words of the ``import`` key, and where each distro source's files are.

Here, not in :mod:`nethook.config.schema` nor :mod:`nethook.importers`, so that what only
needs them (the importers' table, the cached configuration, the command line) loads
neither PyYAML nor an importer.
"""

from __future__ import annotations

from typing import Dict, Tuple

IMPORT_AUTO = "auto"
IMPORT_NONE = "none"
IMPORT_SOURCES = ("ifcfg", "ifupdown", "netplan")
# What each source's present(root) looks at, under the root: a directory's listing (and
# its entries), or whether a file exists. A cache of the answer is keyed by these paths.
PRESENCE: Dict[str, Tuple[str, ...]] = {
    "ifcfg": ("etc/sysconfig/network-scripts",),
    "ifupdown": ("etc/network/interfaces",),
    "netplan": ("lib/netplan", "etc/netplan", "run/netplan"),
}
