"""What each watched service must listen on, and how to bring it back.

:func:`build` turns the ``services:`` settings, the daemons running in this network
namespace and a set of addresses (the ones a run restored, or the ones present that nethook
keeps) into :class:`Watch` values: pure data for the check (:mod:`nethook.services.check`),
for ``nethook status`` and for ``nethook doctor``. A watch names the daemon's main process
(:func:`nethook.daemons.processes.identify`); when that cannot be told, the watch says why
and its listeners are neither there nor missing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from nethook.adapters.units import PATH
from nethook.config.services import DaemonSettings, ListenerSpec, ServicesConfig
from nethook.daemons import COMMS, chrony, ntpd, xinetd
from nethook.daemons.processes import Identified, PidReader, Process, identify
from nethook.model.objects import Address
from nethook.services import setups

DAEMON_COMMS = COMMS


@dataclass(frozen=True)
class Remedy:
    kind: str  # "ntpq" (ntpd's runtime :config), "restart" or "reload"
    argv: Tuple[str, ...] = ()

    def describe(self) -> str:
        return "ntpq :config" if self.kind == "ntpq" else self.kind


@dataclass(frozen=True)
class Watch:
    """One service and the listeners it must have on the addresses in question."""

    service: str  # ntpd, chrony, xinetd, or a unit's name
    expected: Tuple[ListenerSpec, ...]
    wait: int  # seconds for the service to come back on its own
    remedies: Tuple[Remedy, ...] = ()  # tried in order, once the wait is over
    units: Tuple[str, ...] = ()  # the unit names to restart or reload, in order of preference
    comm: Optional[str] = None  # a daemon: only its main process's sockets count
    pid: Optional[int] = None  # that process (also to ask systemd which unit runs it)
    unidentified: Optional[str] = None  # why the main process could not be told
    pidfiles: Tuple[str, ...] = ()  # where to look for the main process again
    wildcard_ok: bool = False  # a wildcard socket on the port serves the address too
    before: Tuple[Tuple[str, ...], ...] = ()  # commands run first, whatever the sockets
    not_expected: Tuple[Tuple[ListenerSpec, str], ...] = ()  # what it will not have, why
    files: Tuple[str, ...] = ()  # the configuration files read


@dataclass(frozen=True)
class Running:
    """One daemon as found: its main process (or why not), and a command line to read."""

    identified: Identified
    argv: Tuple[str, ...]
    pidfiles: Tuple[str, ...] = ()

    @property
    def pid(self) -> Optional[int]:
        return self.identified.main.pid if self.identified.main else None


def _units(settings: DaemonSettings, defaults: Tuple[str, ...]) -> Tuple[str, ...]:
    return (settings.unit,) if settings.unit else defaults


def _daemon_watch(name: str, settings: DaemonSettings, running: Running,
                  expected: Sequence[ListenerSpec], remedies: Sequence[Remedy],
                  units: Tuple[str, ...], *,
                  not_expected: Tuple[Tuple[ListenerSpec, str], ...] = (),
                  before: Tuple[Tuple[str, ...], ...] = (),
                  files: Tuple[str, ...] = ()) -> Watch:
    return Watch(name, tuple(expected), settings.wait, tuple(remedies),
                 _units(settings, units), comm=DAEMON_COMMS[name], pid=running.pid,
                 unidentified=running.identified.problem, pidfiles=running.pidfiles,
                 before=before,
                 not_expected=not_expected, files=files)


def ntpd_watch(root: Path, settings: DaemonSettings, addresses: Sequence[Address],
               found: Sequence[Process], read_pid: PidReader,
               warnings: List[str]) -> Optional[Watch]:
    command = ntpd.parse_command(command_line(found))
    setup, prefix = setups.ntpd_setup(root, settings.config, command)
    warnings.extend(f"ntpd: {problem}" for problem in setup.problems)
    if setup.unreadable:
        warnings.append(f"ntpd: {setup.unreadable}; its addresses are not checked")
        return None
    running = _running(found, setups.ntpd_pidfiles(command), read_pid)
    verdicts = setups.ntpd_verdicts(setup, addresses)
    expected = [v.listener for v in verdicts if v.serves]
    remedies: List[Remedy] = []
    ntpq = shutil.which("ntpq", path=PATH)
    if setup.can_reconfigure and ntpq and setup.keys:
        keys = str(prefix / setup.keys.lstrip("/"))
        lines = ntpd.rebind_commands(setup, [s.address for s in expected])
        remedies.append(Remedy("ntpq", tuple(ntpd.ntpq_argv(ntpq, setup, keys, lines))))
    remedies.append(Remedy("restart"))
    return _daemon_watch("ntpd", settings, running, expected, remedies, ntpd.UNITS,
                         not_expected=tuple((v.listener, v.why_not()) for v in verdicts
                                            if not v.serves), files=setup.files)


def chrony_watch(root: Path, settings: DaemonSettings, addresses: Sequence[Address],
                 found: Sequence[Process], read_pid: PidReader,
                 warnings: List[str]) -> Optional[Watch]:
    setup = setups.chrony_setup(root, settings.config, command_line(found))
    warnings.extend(f"chrony: {problem}" for problem in setup.problems)
    if setup.unreadable:
        warnings.append(f"chrony: {setup.unreadable}; its addresses are not checked")
        return None
    running = _running(found, setups.chrony_pidfiles(setup), read_pid)
    ips = [a.interface.ip for a in addresses]
    expected = [ListenerSpec("udp", setup.port, address)
                for address in chrony.expected_addresses(setup, ips)]
    chronyc = shutil.which(chrony.ONOFFLINE[0], path=PATH)
    before = ((chronyc, *chrony.ONOFFLINE[1:]),) if chronyc else ()
    return _daemon_watch("chrony", settings, running, expected, [Remedy("restart")],
                         chrony.UNITS, before=before, files=setup.files)


def xinetd_watch(root: Path, settings: DaemonSettings, addresses: Sequence[Address],
                 found: Sequence[Process], read_pid: PidReader,
                 warnings: List[str]) -> Optional[Watch]:
    argv = command_line(found)
    setup, _prefix = setups.xinetd_setup(root, settings.config, argv)
    if setup is None:
        warnings.append(f"xinetd: no {xinetd.DEFAULT_CONFIG}; nothing to check")
        return None
    warnings.extend(f"xinetd: {problem}" for problem in setup.problems)
    if setup.unreadable:
        warnings.append(f"xinetd: {setup.unreadable}; its services are not checked")
        return None
    running = _running(found, setups.xinetd_pidfiles(argv), read_pid)
    bound = setup.bound_to([a.interface.ip for a in addresses])
    return _daemon_watch("xinetd", settings, running, [s.listener for s in bound],
                         [Remedy("reload")], xinetd.UNITS, files=setup.files)


def _running(found: Sequence[Process], pidfiles: Sequence[str],
             read_pid: PidReader) -> Running:
    identified = identify(found, pidfiles, read_pid)
    return Running(identified, identified.main.argv if identified.main else command_line(found),
                   tuple(pidfiles))


def command_line(found: Sequence[Process]) -> Tuple[str, ...]:
    """A command line to read the configuration from: the first process whose parent is
    not the same program (they all have the daemon's, but a child may have renamed)."""
    pids = {p.pid for p in found}
    roots = [p for p in found if p.ppid not in pids] or list(found)
    return roots[0].argv


_DAEMON_WATCHES = {"ntpd": ntpd_watch, "chrony": chrony_watch, "xinetd": xinetd_watch}


def build(root: Path, settings: ServicesConfig, addresses: Sequence[Address],
          running: Dict[str, List[Process]], read_pid: PidReader,
          every_unit_listener: bool = False) -> Tuple[List[Watch], List[str]]:
    """The watches for ``addresses``, and warnings about files not understood.

    A daemon is watched when it is enabled and runs in this network namespace; a unit of
    ``services.units`` for its listeners on ``addresses`` (``every_unit_listener``: all of
    them, as ``status`` shows them).
    """
    watches: List[Watch] = []
    warnings: List[str] = []
    for name, make in _DAEMON_WATCHES.items():
        daemon = settings.daemon(name)
        found = running.get(DAEMON_COMMS[name], [])
        if daemon.enabled and found:
            try:
                watch = make(root, daemon, addresses, found, read_pid, warnings)
            except OSError as exc:
                warnings.append(f"{name}: cannot read its configuration: {exc}")
                continue
            if watch is not None:
                watches.append(watch)
    ips = {a.interface.ip for a in addresses}
    for unit in settings.units:
        listen = tuple(spec for spec in unit.listen
                       if every_unit_listener or spec.address in ips)
        if listen:
            remedy = Remedy("reload" if unit.action == "reload" else "restart")
            watches.append(Watch(unit.unit, listen, unit.wait, (remedy,), (unit.unit,),
                                 wildcard_ok=True))
    return watches, warnings


def watched_comms(settings: ServicesConfig) -> List[str]:
    """The programs of the daemons ``settings`` watches."""
    return [DAEMON_COMMS[name] for name in settings.watched()]
