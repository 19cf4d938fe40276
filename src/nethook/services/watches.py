"""What each watched service must listen on after a restore, and how to bring it back.

:func:`build` turns the ``services:`` settings, the daemons running in this network
namespace and the restored addresses into :class:`Watch` values: pure data for the check
(:mod:`nethook.services.check`) and for ``nethook status``. Daemon configuration files are
read here: paths named in ``services:`` and the distro defaults under the run's root; a
path taken from a running daemon's command line as it is, since it names a file of the
live system.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from nethook.adapters.units import PATH
from nethook.config.services import DaemonSettings, ListenerSpec, ServicesConfig
from nethook.daemons import chrony, ntpd, xinetd
from nethook.daemons.processes import Process
from nethook.model.objects import Address

DAEMON_COMMS = {"ntpd": ntpd.COMM, "chrony": chrony.COMM, "xinetd": xinetd.COMM}
LIVE = Path("/")


@dataclass(frozen=True)
class Remedy:
    kind: str  # "ntpq" (ntpd's runtime :config), "restart" or "reload"
    argv: Tuple[str, ...] = ()

    def describe(self) -> str:
        return "ntpq :config" if self.kind == "ntpq" else self.kind


@dataclass(frozen=True)
class Watch:
    """One service and the listeners it must have on the restored addresses."""

    service: str  # ntpd, chrony, xinetd, or a unit's name
    expected: Tuple[ListenerSpec, ...]
    wait: int  # seconds for the service to come back on its own
    remedies: Tuple[Remedy, ...] = ()  # tried in order, once the wait is over
    units: Tuple[str, ...] = ()  # the unit names to restart or reload, in order of preference
    comm: Optional[str] = None  # only this program's sockets count (None: anyone's)
    pid: Optional[int] = None  # the daemon's process, to ask systemd which unit runs it
    wildcard_ok: bool = False  # a wildcard socket on the port serves the address too
    before: Tuple[Tuple[str, ...], ...] = ()  # commands run first, whatever the sockets
    not_expected: Tuple[Tuple[ListenerSpec, str], ...] = ()  # what it will not have, why
    files: Tuple[str, ...] = ()  # the configuration files read


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


def last_option(argv: Sequence[str], flag: str) -> Optional[str]:
    """The value of the last ``FLAG VALUE`` or ``FLAGVALUE`` (short options only)."""
    found = None
    for index, arg in enumerate(argv[1:], start=1):
        if arg == flag and index + 1 < len(argv):
            found = argv[index + 1]
        elif arg.startswith(flag) and len(arg) > len(flag) and not arg.startswith("--"):
            found = arg[len(flag):]
    return found


def _config_path(root: Path, settings: DaemonSettings, from_command: Optional[str],
                 defaults: Sequence[str]) -> Tuple[Optional[str], Path]:
    """Which file to read, and under which prefix."""
    if settings.config:
        return settings.config, root
    if from_command:
        return from_command, LIVE
    for path in defaults:
        if (root / path.lstrip("/")).exists():
            return path, root
    return None, root


def _units(settings: DaemonSettings, defaults: Tuple[str, ...]) -> Tuple[str, ...]:
    return (settings.unit,) if settings.unit else defaults


def _name_of(address: Address) -> str:
    """ntpd's name for the interface of an address: the label for IPv4 (``eth0:0``)."""
    return (address.label or address.ifname) if address.family == 4 else address.ifname


def ntpd_watch(root: Path, settings: DaemonSettings, restored: Sequence[Address],
               running: Sequence[Process], warnings: List[str]) -> Optional[Watch]:
    command = ntpd.parse_command(running[0].argv)
    path, prefix = _config_path(root, settings, command.config, ntpd.DEFAULT_CONFIGS)
    setup = (ntpd.load(path, read_under(prefix), command) if path
             else ntpd.NtpSetup(novirtual=command.novirtual, keys=command.keys))
    warnings.extend(f"ntpd: {problem}" for problem in setup.problems)
    if setup.unreadable:
        warnings.append(f"ntpd: {setup.unreadable}; its addresses are not checked")
        return None
    expected, skipped = [], []
    for address in restored:
        decision = setup.decide(address.interface.ip, _name_of(address))
        if decision.action == "listen":
            expected.append(ListenerSpec("udp", ntpd.PORT, address.interface.ip))
        else:
            why = decision.why if decision.action == "ignore" else (
                f"{decision.action}: {decision.why}")
            skipped.append((ListenerSpec("udp", ntpd.PORT, address.interface.ip), why))
    remedies: List[Remedy] = []
    ntpq = shutil.which("ntpq", path=PATH)
    if setup.can_reconfigure and ntpq and setup.keys:
        keys = str(prefix / setup.keys.lstrip("/"))
        lines = ntpd.rebind_commands(setup, [s.address for s in expected])
        remedies.append(Remedy("ntpq", tuple(ntpd.ntpq_argv(ntpq, setup, keys, lines))))
    remedies.append(Remedy("restart"))
    return Watch("ntpd", tuple(expected), settings.wait, tuple(remedies),
                 _units(settings, ntpd.UNITS), comm=ntpd.COMM, pid=running[0].pid,
                 not_expected=tuple(skipped), files=setup.files)


def chrony_watch(root: Path, settings: DaemonSettings, restored: Sequence[Address],
                 running: Sequence[Process], warnings: List[str]) -> Optional[Watch]:
    from_command = chrony.config_from_command(running[0].argv)
    path, prefix = _config_path(root, settings, from_command, chrony.DEFAULT_CONFIGS)
    setup = (chrony.load(path, read_under(prefix), chrony.glob_under(prefix)) if path
             else chrony.ChronySetup())
    warnings.extend(f"chrony: {problem}" for problem in setup.problems)
    if setup.unreadable:
        warnings.append(f"chrony: {setup.unreadable}; its addresses are not checked")
        return None
    ips = [a.interface.ip for a in restored]
    expected = tuple(ListenerSpec("udp", setup.port, address)
                     for address in chrony.expected_addresses(setup, ips))
    chronyc = shutil.which(chrony.ONOFFLINE[0], path=PATH)
    before = ((chronyc, *chrony.ONOFFLINE[1:]),) if chronyc else ()
    return Watch("chrony", expected, settings.wait, (Remedy("restart"),),
                 _units(settings, chrony.UNITS), comm=chrony.COMM, pid=running[0].pid,
                 before=before, files=setup.files)


def xinetd_watch(root: Path, settings: DaemonSettings, restored: Sequence[Address],
                 running: Sequence[Process], warnings: List[str]) -> Optional[Watch]:
    from_command = last_option(running[0].argv, "-f")
    path, prefix = _config_path(root, settings, from_command, (xinetd.DEFAULT_CONFIG,))
    if path is None:
        warnings.append(f"xinetd: no {xinetd.DEFAULT_CONFIG}; nothing to check")
        return None
    ports = read_under(root)(xinetd.SERVICES_FILE)
    setup = xinetd.load(path, read_under(prefix), names_under(prefix), ports)
    warnings.extend(f"xinetd: {problem}" for problem in setup.problems)
    if setup.unreadable:
        warnings.append(f"xinetd: {setup.unreadable}; its services are not checked")
        return None
    bound = setup.bound_to([a.interface.ip for a in restored])
    return Watch("xinetd", tuple(s.listener for s in bound), settings.wait,
                 (Remedy("reload"),), _units(settings, xinetd.UNITS), comm=xinetd.COMM,
                 pid=running[0].pid, files=setup.files)


_DAEMON_WATCHES = {"ntpd": ntpd_watch, "chrony": chrony_watch, "xinetd": xinetd_watch}


def build(root: Path, settings: ServicesConfig, restored: Sequence[Address],
          running: Dict[str, List[Process]],
          every_unit_listener: bool = False) -> Tuple[List[Watch], List[str]]:
    """The watches for ``restored`` addresses, and warnings about files not understood.

    A daemon is watched when it is enabled and runs in this network namespace; a unit of
    ``services.units`` for its listeners on restored addresses (``every_unit_listener``:
    all of them, as ``status`` shows them).
    """
    watches: List[Watch] = []
    warnings: List[str] = []
    for name, make in _DAEMON_WATCHES.items():
        daemon = settings.daemon(name)
        processes = running.get(DAEMON_COMMS[name], [])
        if daemon.enabled and processes:
            try:
                watch = make(root, daemon, restored, processes, warnings)
            except OSError as exc:
                warnings.append(f"{name}: cannot read its configuration: {exc}")
                continue
            if watch is not None:
                watches.append(watch)
    ips = {a.interface.ip for a in restored}
    for unit in settings.units:
        listen = tuple(spec for spec in unit.listen
                       if every_unit_listener or spec.address in ips)
        if listen:
            remedy = Remedy("reload" if unit.action == "reload" else "restart")
            watches.append(Watch(unit.unit, listen, unit.wait, (remedy,), (unit.unit,),
                                 wildcard_ok=True))
    return watches, warnings
