"""Libraries nethook can run without: dbus-next is recommended, not required.

Without dbus-next the watcher follows netlink and the hooks but not NetworkManager or
systemd-networkd on D-Bus, and the services check cannot restart a service through systemd.
Each feature says so in one line, naming the package that brings it back.
"""

from __future__ import annotations

DBUS_NEXT = "dbus_next"
DBUS_NEXT_PACKAGE = "python3-dbus-next"


def is_missing(exc: ImportError, module: str) -> bool:
    """Whether ``exc`` is ``module`` itself (or one of its submodules) not being
    importable, rather than something that module imports failing."""
    name = exc.name or ""
    return name == module or name.startswith(module + ".")
