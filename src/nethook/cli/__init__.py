"""The ``nethook`` command. Imports stay light here: heavy modules load when a run needs them."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from nethook import __version__
from nethook.base.context import RunContext
from nethook.base.errors import ConfigError, NethookError
from nethook.base.exit_codes import ExitCode

if TYPE_CHECKING:
    from nethook.config.load import Config

log = logging.getLogger("nethook")

Handler = Callable[[argparse.Namespace, RunContext], int]
# The same names as config_schema.IMPORT_SOURCES, which this module must not import (yaml).
IMPORT_SOURCES = ("ifcfg", "ifupdown", "netplan")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    from nethook.base import logs as logging_setup

    under_hook = args.handler is _cmd_hook
    detached = args.handler is _cmd_services_check  # started by a hook: no one reads stderr
    logging_setup.setup(_option(args, "verbose", 0) - _option(args, "quiet", 0),
                        syslog=under_hook or detached)
    ctx = RunContext.from_options(
        os.environ, root=_option(args, "root"), config=_option(args, "config"),
        state_dir=_option(args, "state_dir"), run_dir=_option(args, "run_dir"),
        lock_timeout=_hook_lock_timeout() if under_hook else None)
    handler: Handler = args.handler
    try:
        return handler(args, ctx)
    except ConfigError as exc:
        log.error("invalid configuration, nothing applied: %s", exc)
        return ExitCode.USAGE
    except NethookError as exc:
        log.error("%s", exc)
        return ExitCode.INCOMPLETE
    except Exception:  # the one broad boundary: report, never a bare traceback to a hook
        log.exception("internal error")
        return ExitCode.INCOMPLETE


def _option(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    return getattr(args, name, default)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    hide = argparse.SUPPRESS
    common.add_argument("--config", metavar="PATH", default=hide,
                        help="configuration file or directory (env NETHOOK_CONFIG)")
    common.add_argument("--root", metavar="DIR", default=hide,
                        help="filesystem root prefixed to every file read (env NETHOOK_ROOT)")
    common.add_argument("--state-dir", metavar="DIR", default=hide,
                        help="state directory, default /var/lib/nethook (env NETHOOK_STATE_DIR)")
    common.add_argument("--run-dir", metavar="DIR", default=hide,
                        help="runtime directory, default /run/nethook (env NETHOOK_RUN_DIR)")
    common.add_argument("--json", action="store_true", default=hide,
                        help="machine-readable output")
    common.add_argument("-v", "--verbose", action="count", default=hide)
    common.add_argument("-q", "--quiet", action="count", default=hide)
    return common


def _parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="nethook", parents=[common],
        description="Keep secondary addresses, policy rules and table routes across DHCP events.")
    parser.add_argument("--version", action="version", version=f"nethook {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    status = sub.add_parser("status", parents=[common],
                            help="declared state against the kernel, per interface")
    status.add_argument("interface", nargs="?")
    status.set_defaults(handler=_cmd_status)

    plan = sub.add_parser("plan", parents=[common],
                          help="print the operations apply would run, as ip commands")
    plan.add_argument("interface", nargs="?")
    plan.add_argument("--prune", action="store_true",
                      help="also remove what nethook added earlier and no longer keeps")
    plan.set_defaults(handler=_cmd_plan)

    apply = sub.add_parser("apply", parents=[common], help="restore what is missing")
    apply.add_argument("interface", nargs="?")
    apply.add_argument("--dry-run", action="store_true", help="plan only, change nothing")
    apply.add_argument("--prune", action="store_true",
                       help="also remove what nethook added earlier and no longer keeps")
    apply.set_defaults(handler=_cmd_apply)

    hook = sub.add_parser("hook", help="entry point for the shims in hooks/ (always exits 0)")
    hook.add_argument("source", choices=("dhclient-enter", "dhclient-exit", "dhclient-rhel",
                                         "networkmanager", "ifupdown", "networkd"))
    hook.add_argument("args", nargs="*", help="the caller's own arguments")
    hook.set_defaults(handler=_cmd_hook)

    replay = sub.add_parser("replay", parents=[common],
                            help="run the last recorded event of an interface again")
    replay.add_argument("interface", nargs="?")
    replay.add_argument("--reason", help="replay as this reason (BOUND, RENEW, ...)")
    replay.add_argument("--dry-run", action="store_true", help="plan only, change nothing")
    replay.set_defaults(handler=_cmd_replay)

    snap = sub.add_parser("snapshot", parents=[common],
                          help="record an interface's aliases, rules and table routes now")
    snap.add_argument("interface")
    snap.set_defaults(handler=_cmd_snapshot)

    imp = sub.add_parser("import", parents=[common],
                         help="print what the distro's own network files declare, as nethook "
                              "YAML")
    imp.add_argument("--from", dest="sources", action="append", choices=IMPORT_SOURCES,
                     metavar="SOURCE", help=f"one of {', '.join(IMPORT_SOURCES)} (repeatable; "
                                            "default: every source whose files exist)")
    imp.set_defaults(handler=_cmd_import)

    # Hidden (no help): what a hook starts, detached, after it restored addresses.
    check = sub.add_parser("services-check", parents=[common])
    check.add_argument("interface")
    check.set_defaults(handler=_cmd_services_check)

    watch = sub.add_parser("watch", parents=[common],
                           help="stay running: restore what is kept as soon as it is lost")
    watch.add_argument("--no-dbus", action="store_true",
                       help="follow hooks and netlink only, not NetworkManager or networkd")
    watch.set_defaults(handler=_cmd_watch)

    doctor = sub.add_parser("doctor", parents=[common],
                            help="find misconfigurations that lose aliases, rules and routes")
    doctor.add_argument("--fix", action="store_true",
                        help="apply the safe, unambiguous fixes (after printing them)")
    doctor.set_defaults(handler=_cmd_doctor)
    return parser


def _scoped_desired(args: argparse.Namespace, ctx: RunContext) -> Any:
    from nethook.engine.desired import load_config

    desired = load_config(ctx).desired
    return desired.scoped(args.interface) if args.interface else desired


def _cmd_apply(args: argparse.Namespace, ctx: RunContext) -> int:
    return _run(args, ctx, dry_run=bool(args.dry_run), prune=bool(args.prune),
                reason="apply")


def _cmd_plan(args: argparse.Namespace, ctx: RunContext) -> int:
    return _run(args, ctx, dry_run=True, prune=bool(args.prune), reason="plan")


def _run(args: argparse.Namespace, ctx: RunContext, *, dry_run: bool, prune: bool,
         reason: str) -> int:
    from nethook.engine.reconcile import reconcile
    from nethook.events import Event, Kind

    desired = _scoped_desired(args, ctx)
    event = Event(source="cli", kind=Kind.MANUAL, reason=reason, ifname=args.interface)
    result = reconcile(ctx, desired, event, prune=prune, dry_run=dry_run)
    assert result is not None  # only a coalesced hook run returns None
    from nethook.cli import render

    if _option(args, "json", False):
        _print_json(render.run_json(result))
    else:
        print(render.run_text(result), end="")
    if dry_run and reason == "plan":
        return ExitCode.INCOMPLETE if result.plan.ops or result.plan.skipped else ExitCode.OK
    return result.exit_code


def _hook_lock_timeout() -> float:
    from nethook.engine.run import HOOK_LOCK_TIMEOUT

    return HOOK_LOCK_TIMEOUT


def _cmd_hook(args: argparse.Namespace, ctx: RunContext) -> int:
    from nethook.engine.run import run_hook

    return run_hook(args.source, args.args, os.environ, ctx)


def _cmd_replay(args: argparse.Namespace, ctx: RunContext) -> int:
    from nethook.cli import render
    from nethook.engine.reconcile import open_kernel
    from nethook.engine.replay import events_to_replay
    from nethook.engine.run import restore

    # Reads the configuration: a bad one stops a replay before anything is touched.
    known = sorted(_known_interfaces(ctx))
    netlink = open_kernel()
    try:
        observed = netlink.observe(known, [])
    finally:
        netlink.close()
    worst = ExitCode.OK
    for event in events_to_replay(ctx, args.interface, args.reason, known, observed):
        print(f"# {event.ifname}: replaying {event.describe()}")
        result = restore(ctx, event, dry_run=bool(args.dry_run), replay=True)
        if result is not None:
            print(render.run_text(result), end="")
            worst = max(worst, result.exit_code)
    return worst


def _known_interfaces(ctx: RunContext, config: Optional[Config] = None) -> set[str]:
    from nethook.engine.desired import load_config
    from nethook.engine.snapshot import snapshot_path

    names = set((config or load_config(ctx)).desired.interfaces)
    folder = snapshot_path(ctx.run_dir, "x").parent
    if folder.is_dir():
        names.update(p.stem for p in folder.glob("*.json"))
    return names


def _cmd_snapshot(args: argparse.Namespace, ctx: RunContext) -> int:
    from nethook.engine.run import take_snapshot
    from nethook.events import Event, Kind, checked_ifname

    ifname = checked_ifname(args.interface)
    if ifname is None:
        return ExitCode.USAGE
    take_snapshot(ctx, Event(source="cli", kind=Kind.PREPARE, reason="snapshot",
                             ifname=ifname))
    return ExitCode.OK


def _cmd_status(args: argparse.Namespace, ctx: RunContext) -> int:
    from nethook.cli import render
    from nethook.engine.desired import load_config
    from nethook.engine.plan import State, assess
    from nethook.engine.reconcile import observe_scope, open_kernel
    from nethook.engine.run import desired_for
    from nethook.model.objects import Desired

    config = load_config(ctx)  # once: imports are read (and their warnings logged) once
    desired = Desired()  # what a hook would restore: declared state and the snapshot
    names = [args.interface] if args.interface else sorted(_known_interfaces(ctx, config))
    for name in names:
        desired = desired.merged(desired_for(ctx, name, config))
    netlink = open_kernel()
    try:
        observed = observe_scope(netlink, desired)
    finally:
        netlink.close()
    assessments = assess(desired, observed)
    events = _last_events(ctx)
    from nethook.watch import status as watcher

    running = watcher.report(ctx)
    from nethook.services import status as services

    listening, warnings = services.assess(ctx.root, config.services, sorted(
        desired.addresses, key=lambda a: (a.ifname, a.family, a.interface)))
    for warning in warnings:
        log.warning("%s", warning)
    if _option(args, "json", False):
        _print_json(dict(render.status_json(assessments, events), watcher=running,
                         services=services.to_json(listening)))
    else:
        print(render.status_text(assessments, events) + watcher.text(running)
              + services.text(listening), end="")
    missing = [a for a in assessments if a.state is not State.PRESENT]
    deaf = [s for s in listening if not s.complete]  # missing, or could not be read
    return ExitCode.INCOMPLETE if missing or deaf else ExitCode.OK


def _last_events(ctx: RunContext) -> Dict[str, Dict[str, Any]]:
    """The newest journal entry of each interface (hook events and runs alike)."""
    from nethook.engine import journal

    last: Dict[str, Dict[str, Any]] = {}
    for entry in journal.entries(ctx.state_dir):
        ifname = (entry.get("event") or {}).get("ifname")
        if ifname:
            last[ifname] = entry
    return last


def _cmd_doctor(args: argparse.Namespace, ctx: RunContext) -> int:
    from nethook.doctor.run import main as doctor

    return doctor(ctx, fix=bool(args.fix), as_json=bool(_option(args, "json", False)))


def _cmd_watch(args: argparse.Namespace, ctx: RunContext) -> int:
    from nethook.watch.daemon import Options, main

    return main(ctx, Options(dbus=not args.no_dbus))


def _cmd_services_check(args: argparse.Namespace, ctx: RunContext) -> int:
    from nethook.engine.services_check import check_pending
    from nethook.events import checked_ifname

    ifname = checked_ifname(args.interface)
    return ExitCode.USAGE if ifname is None else check_pending(ctx, ifname)


def _cmd_import(args: argparse.Namespace, ctx: RunContext) -> int:
    from nethook import importers
    from nethook.config.rt_tables import load_tables
    from nethook.importers.emit import to_yaml
    from nethook.model.objects import Desired

    tables = load_tables(ctx.root)
    names = (list(dict.fromkeys(args.sources)) if args.sources
             else importers.selected(("auto",), ctx.root))
    found = importers.read(names, ctx.root, tables)
    _desired, kept, conflicts = importers.combine(Desired(), found)
    problems = (*importers.problems(found), *conflicts)
    for problem in problems:
        log.warning("%s", problem)
    files = [path for source in found for path in source.files]
    if _option(args, "json", False):
        _print_json({"sources": names, "files": files, "problems": [str(p) for p in problems],
                     "objects": [{"kind": type(o).__name__.lower(), "interface": o.ifname,
                                  "object": o.describe(), "origin": str(o.origin)}
                                 for o in kept]})
    else:
        print(to_yaml(kept, tables, _import_header(names, files, problems)), end="")
    return ExitCode.INCOMPLETE if problems else ExitCode.OK


def _import_header(names: Sequence[str], files: Sequence[str],
                   problems: Sequence[object]) -> list[str]:
    if not names:
        return [f"nethook import: no distro network files found ({', '.join(IMPORT_SOURCES)})"]
    lines = [f"nethook import --from {' --from '.join(names)}, from:"]
    lines += [f"  {path}" for path in files]
    if problems:
        lines.append("Not kept as written (also printed as warnings):")
        lines += [f"  {problem}" for problem in problems]
    lines += ["Once this file replaces the distro's files for nethook, turn their import off:",
              "import: none", ""]
    return lines


def _print_json(data: Dict[str, Any]) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")

