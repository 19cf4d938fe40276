"""chronyd: its server socket, and the ``chronyc onoffline`` its own hooks run.

chronyd binds its NTP server socket to the wildcard unless ``bindaddress`` names an address
(one per family), and binds it once, at start: it never rescans. chrony 4.3 (Debian 12)
binds with IP_FREEBIND, so even a chronyd that started while the alias was gone has its
socket on it, and serves as soon as the alias is back (checked with the real one,
tests/e2e/test_services_live.py); an older chronyd that failed to bind needs a restart,
which is what nethook does when the socket is missing. ``port 0`` means no server socket
at all. The daemon is the process ``pidfile`` names (chronyd's privileged helper, a child
of it, has the same name). After routes change, chrony's own dispatcher hooks run
``chronyc onoffline`` (sources are set online or offline by whether a route reaches them);
nethook runs it after every restore.
"""

from __future__ import annotations

import glob
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from nethook.daemons import COMMS
from nethook.daemons.conffile import IncludingLoader, Reader
from nethook.model.objects import IPAddress

COMM = COMMS["chrony"]
PORT = 123
DEFAULT_CONFIGS = ("/etc/chrony/chrony.conf", "/etc/chrony.conf")
PIDFILES = ("/run/chrony/chronyd.pid", "/var/run/chrony/chronyd.pid", "/var/run/chronyd.pid")
UNITS = ("chrony.service", "chronyd.service")
INIT_SCRIPTS = ("chrony", "chronyd")
ONOFFLINE = ("chronyc", "onoffline")
MAX_INCLUDE_DEPTH = 5
_COMMENT = ("#", "%", "!", ";")

Lister = Callable[[str], List[str]]  # a glob pattern to the paths it matches, sorted


@dataclass(frozen=True)
class ChronySetup:
    bind: Tuple[IPAddress, ...] = ()  # bindaddress, the last one per family
    port: int = PORT
    files: Tuple[str, ...] = ()
    problems: Tuple[str, ...] = ()
    unreadable: Optional[str] = None
    pidfile: Optional[str] = None  # the pidfile directive, if any


def config_from_command(argv: Sequence[str]) -> Optional[str]:
    """chronyd's ``-f FILE`` (the last one), if given."""
    found = None
    for index, arg in enumerate(argv):
        if arg == "-f" and index + 1 < len(argv):
            found = argv[index + 1]
        elif arg.startswith("-f") and len(arg) > 2:
            found = arg[2:]
    return found


def load(path: str, read: Reader, listing: Lister) -> ChronySetup:
    """chrony.conf and what it includes (``include PATTERN``, ``confdir DIR...``)."""
    loader = _Loader(read, listing)
    loader.file(path, 0)
    bind = tuple(loader.bind[family] for family in (4, 6) if family in loader.bind)
    return ChronySetup(bind, loader.port, tuple(loader.files), tuple(loader.problems),
                       loader.unreadable, loader.pidfile)


class _Loader(IncludingLoader):
    def __init__(self, read: Reader, listing: Lister) -> None:
        super().__init__(read)
        self.listing = listing
        self.bind: Dict[int, IPAddress] = {}
        self.port = PORT
        self.pidfile: Optional[str] = None

    def missing_include(self, path: str) -> Optional[str]:
        return None  # chronyd itself says nothing of a missing include

    def parse(self, text: str, path: str, depth: int) -> None:
        for number, line in enumerate(text.splitlines(), start=1):
            words = line.split()
            if words and not words[0].startswith(_COMMENT):
                self.directive(words[0].lower(), words[1:], f"{path}:{number}", depth)

    def directive(self, keyword: str, args: List[str], where: str, depth: int) -> None:
        if keyword == "bindaddress" and args:
            try:
                address = ipaddress.ip_address(args[0])
            except ValueError:
                self.problems.append(f"{where}: bindaddress {args[0]}: not an IP address")
                return
            self.bind[address.version] = address
        elif keyword == "pidfile" and args:
            self.pidfile = args[0]
        elif keyword == "port" and args and args[0].isdigit():
            self.port = int(args[0])
        elif keyword in ("include", "confdir") and args:
            if depth >= MAX_INCLUDE_DEPTH:
                self.problems.append(f"{where}: {keyword} nested too deep; not followed")
                return
            for included in self.included(keyword, args):
                self.file(included, depth + 1)

    def included(self, keyword: str, args: List[str]) -> List[str]:
        if keyword == "include":
            return self.listing(args[0])
        chosen: Dict[str, str] = {}  # confdir: a name in an earlier directory wins
        for directory in args:
            for path in self.listing(os.path.join(directory, "*.conf")):
                chosen.setdefault(os.path.basename(path), path)
        return [chosen[name] for name in sorted(chosen)]


def glob_under(prefix: Path) -> Lister:
    """A Lister that matches patterns under ``prefix`` and returns paths without it."""
    def listing(pattern: str) -> List[str]:
        base = str(prefix).rstrip("/")
        found = sorted(glob.glob(base + "/" + pattern.lstrip("/")))
        return [path[len(base):] if base else path for path in found]
    return listing


def expected_addresses(setup: ChronySetup, restored: Sequence[IPAddress]) -> List[IPAddress]:
    """The restored addresses chronyd's server socket is bound to (none with ``port 0``)."""
    if setup.port == 0:
        return []
    return [address for address in restored if address in setup.bind]
