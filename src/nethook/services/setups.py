"""Which configuration each daemon runs with, read once for everyone who asks.

The services check, ``nethook status`` and ``nethook doctor`` find a daemon's files the
same way, so they cannot disagree about what it should listen on: the path named in
``services:`` (under the run's root), else the running daemon's own (``-c``, ``-f``: a file
of the live system), else the distro's default under the root. The readers themselves are
in :mod:`nethook.daemons`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

from nethook.config.services import ListenerSpec
from nethook.daemons import chrony, ntpd, xinetd
from nethook.daemons.ntpd import Decision
from nethook.model.objects import Address, Origin

LIVE = Path("/")


def read_under(prefix: Path) -> Callable[[str], Optional[str]]:
    """A file's text under ``prefix``; None when it does not exist. Other errors raise."""
    def read(path: str) -> Optional[str]:
        try:
            return (prefix / path.lstrip("/")).read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, NotADirectoryError):
            return None
    return read


def names_under(prefix: Path) -> Callable[[str], List[str]]:
    def names(directory: str) -> List[str]:
        try:
            return sorted(p.name for p in (prefix / directory.lstrip("/")).iterdir()
                          if p.is_file())
        except (FileNotFoundError, NotADirectoryError):
            return []
    return names


def word_option(argv: Sequence[str], flag: str) -> Optional[str]:
    """The value after the last ``FLAG`` given as a word of its own (xinetd's options are
    words: ``-f``, ``-filelog``, ``-pidfile``)."""
    found = None
    for index, arg in enumerate(argv[1:-1], start=1):
        if arg == flag:
            found = argv[index + 1]
    return found


def config_path(root: Path, configured: Optional[str], from_command: Optional[str],
                defaults: Sequence[str], live_command: bool = True) -> Tuple[Optional[str], Path]:
    """Which file to read, and under which prefix."""
    if configured:
        return configured, root
    if from_command:
        return from_command, LIVE if live_command else root
    for path in defaults:
        if (root / path.lstrip("/")).exists():
            return path, root
    return None, root


def shown_under(prefix: Path, origin: Optional[Origin]) -> Origin:
    """Where a file read under ``prefix`` is, for a report: ``ROOT/etc/ntp.conf:3``."""
    if origin is None or not origin.source.startswith("/"):
        return origin or Origin("")
    return Origin(str(prefix / origin.source.lstrip("/")), origin.line)


def ntp_name(address: Address) -> str:
    """ntpd's name for the interface of an address: the label for IPv4 (``eth0:0``), as
    getifaddrs() gives it; the device for IPv6."""
    return (address.label or address.ifname) if address.family == 4 else address.ifname


# -- ntpd -------------------------------------------------------------------------------------

def ntpd_setup(root: Path, configured: Optional[str], command: ntpd.Command,
               live_command: bool = True) -> Tuple[ntpd.NtpSetup, Path]:
    """ntpd's rules and keys, and the prefix its files are read under."""
    path, prefix = config_path(root, configured, command.config, ntpd.DEFAULT_CONFIGS,
                               live_command)
    if path is None:
        return ntpd.NtpSetup(novirtual=command.novirtual, keys=command.keys), prefix
    return ntpd.load(path, read_under(prefix), command), prefix


@dataclass(frozen=True)
class NtpVerdict:
    address: Address
    listener: ListenerSpec
    decision: Decision

    @property
    def serves(self) -> bool:
        """Whether ntpd answers there (``drop`` opens a socket and drops what arrives)."""
        return self.decision.action == "listen"

    def why_not(self) -> str:
        decision = self.decision
        return decision.why if decision.action == "ignore" else (
            f"{decision.action}: {decision.why}")


def ntpd_verdicts(setup: ntpd.NtpSetup, addresses: Sequence[Address]) -> List[NtpVerdict]:
    """What ntpd does with each address: the one decision doctor and services both use."""
    return [NtpVerdict(a, ListenerSpec("udp", ntpd.PORT, a.interface.ip),
                       setup.decide(a.interface.ip, ntp_name(a))) for a in addresses]


def ntpd_pidfiles(command: ntpd.Command) -> Tuple[str, ...]:
    return (command.pidfile,) if command.pidfile else ntpd.PIDFILES


# -- chrony -----------------------------------------------------------------------------------

def chrony_setup(root: Path, configured: Optional[str],
                 argv: Sequence[str]) -> chrony.ChronySetup:
    path, prefix = config_path(root, configured, chrony.config_from_command(argv),
                               chrony.DEFAULT_CONFIGS)
    if path is None:
        return chrony.ChronySetup()
    return chrony.load(path, read_under(prefix), chrony.glob_under(prefix))


def chrony_pidfiles(setup: chrony.ChronySetup) -> Tuple[str, ...]:
    return (setup.pidfile,) if setup.pidfile else chrony.PIDFILES


# -- xinetd -----------------------------------------------------------------------------------

def xinetd_setup(root: Path, configured: Optional[str], argv: Sequence[str],
                 live_command: bool = True) -> Tuple[Optional[xinetd.XinetdSetup], Path]:
    """xinetd's services, and the prefix its files are read under; None when it has no
    configuration file (xinetd would not start)."""
    path, prefix = config_path(root, configured, word_option(argv, "-f"),
                               (xinetd.DEFAULT_CONFIG,), live_command)
    if path is None:
        return None, prefix
    ports = read_under(root)(xinetd.SERVICES_FILE)
    return xinetd.load(path, read_under(prefix), names_under(prefix), ports), prefix


def xinetd_pidfiles(argv: Sequence[str]) -> Tuple[str, ...]:
    named = word_option(argv, "-pidfile")
    return (named,) if named else xinetd.PIDFILES
