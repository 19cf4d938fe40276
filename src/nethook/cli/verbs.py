"""What each verb does: translate the command line, call the engine, return an Output.

A verb never prints: it returns its exit status, its JSON document and its text, and
``cli.main`` prints one or the other. Imports stay inside the functions, so that the
hook path loads only what it needs.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from nethook.base.context import RunContext
from nethook.base.errors import UsageError
from nethook.base.exit_codes import ExitCode

if TYPE_CHECKING:
    import argparse

    from nethook.engine.desired import Assembly
    from nethook.engine.reconcile import RunResult

log = logging.getLogger("nethook")


@dataclass
class Output:
    code: int
    kind: str = ""  # the JSON document's kind; "" for verbs that print no document
    document: Dict[str, Any] = field(default_factory=dict)
    text: str = ""


Verb = Callable[["argparse.Namespace", RunContext], Output]


def option(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    return getattr(args, name, default)


def interface(args: argparse.Namespace) -> Optional[str]:
    """The interface named on the command line, checked as the kernel checks names."""
    from nethook.events import checked_ifname

    given: Optional[str] = option(args, "interface")
    if given is None:
        return None
    name = checked_ifname(given)
    if name is None:
        raise UsageError(f"{given[:64]!r} is not a valid interface name")
    return name


def _assembled(args: argparse.Namespace, ctx: RunContext) -> Assembly:
    """The one desired state of this run; an invalid configuration, or an interface that
    is neither kept nor present in the kernel, stops the verb."""
    from nethook.engine.desired import assemble

    assembly = assemble(ctx, interface(args))
    assembly.require_valid()
    if assembly.scope is not None and assembly.scope not in assembly.interfaces:
        _require_link(assembly.scope)
    return assembly


def _require_link(ifname: str) -> None:
    from nethook.engine.reconcile import open_kernel

    netlink = open_kernel()
    try:
        present = netlink.observe([], []).has_link(ifname)
    finally:
        netlink.close()
    if not present:
        raise UsageError(f"{ifname}: no such interface, and nothing is kept on it")


# -- status, check, metrics ------------------------------------------------------------------


def status(args: argparse.Namespace, ctx: RunContext) -> Output:
    import nethook.cli.render as render
    from nethook.monitor.facts import gather

    facts = gather(ctx, interface(args))
    facts.assembly.require_valid()
    code = ExitCode.INCOMPLETE if facts.missing or facts.deaf else ExitCode.OK
    return Output(code, "status", render.status_json(facts), render.status_text(facts))


def check(args: argparse.Namespace, ctx: RunContext) -> Output:
    """Never an error: whatever goes wrong is UNKNOWN, in the plugin's own format."""
    from nethook.base.errors import NethookError
    from nethook.monitor import check as plugin
    from nethook.monitor.facts import gather

    try:
        result = plugin.evaluate(gather(ctx, interface(args)))
    except (NethookError, OSError) as exc:
        hint = "; nethook check must run as root (sudo)" if os.geteuid() != 0 else ""
        result = plugin.unknown(f"cannot check: {exc}{hint}")
    return Output(int(result.status), "check", result.to_json(), result.text())


def metrics(args: argparse.Namespace, ctx: RunContext) -> Output:
    from nethook.base.errors import NethookError
    from nethook.monitor import metrics as prometheus
    from nethook.monitor.facts import gather

    try:
        facts = gather(ctx)
        text, code = prometheus.exposition(facts), ExitCode.OK
        problem = None
    except (NethookError, OSError) as exc:
        text, code, problem = prometheus.down(), ExitCode.CANNOT_CHECK, str(exc)
    written = None
    if option(args, "textfile"):
        written = str(prometheus.write_textfile(Path(args.textfile), text))
    document = {"exposition": text, "textfile": written, "problem": problem}
    return Output(code, "metrics", document, "" if written else text)


# -- plan, apply, replay, snapshot -----------------------------------------------------------


def plan(args: argparse.Namespace, ctx: RunContext) -> Output:
    result = _run(args, ctx, dry_run=True, reason="plan")
    code = ExitCode.INCOMPLETE if result.plan.ops or result.plan.skipped else ExitCode.OK
    return _run_output("plan", result, code)


def apply(args: argparse.Namespace, ctx: RunContext) -> Output:
    result = _run(args, ctx, dry_run=bool(args.dry_run), reason="apply")
    return _run_output("apply", result, result.exit_code)


def _run(args: argparse.Namespace, ctx: RunContext, *, dry_run: bool,
         reason: str) -> RunResult:
    from nethook.engine.run import apply_all
    from nethook.events import Event, Kind

    assembly = _assembled(args, ctx)
    event = Event(source="cli", kind=Kind.MANUAL, reason=reason, ifname=assembly.scope)
    return apply_all(ctx, assembly, event, prune=bool(option(args, "prune")),
                     dry_run=dry_run)


def _run_output(kind: str, result: RunResult, code: int) -> Output:
    import nethook.cli.render as render

    return Output(code, kind, render.run_json(result), render.run_text(result))


def replay(args: argparse.Namespace, ctx: RunContext) -> Output:
    import nethook.cli.render as render
    from nethook.engine.reconcile import open_kernel
    from nethook.engine.replay import events_to_replay
    from nethook.engine.run import restore

    assembly = _assembled(args, ctx)  # a bad configuration stops a replay first
    known = sorted(assembly.interfaces)
    netlink = open_kernel()
    try:
        observed = netlink.observe(known, [])
    finally:
        netlink.close()
    worst, runs, text = ExitCode.OK, [], []
    for event in events_to_replay(ctx, assembly.scope, args.reason, known, observed):
        text.append(f"# {event.ifname}: replaying {event.describe()}\n")
        result = restore(ctx, event, dry_run=bool(args.dry_run), replay=True, base=assembly)
        run: Dict[str, Any] = {"interface": event.ifname, "event": event.to_dict(),
                               "coalesced": result is None}
        if result is not None:
            text.append(render.run_text(result))
            run.update(render.run_json(result))
            worst = max(worst, result.exit_code)
        runs.append(run)
    return Output(worst, "replay", {"runs": runs, "exit": int(worst)}, "".join(text))


def snapshot(args: argparse.Namespace, ctx: RunContext) -> Output:
    from nethook.engine.run import take_snapshot
    from nethook.engine.snapshot_file import load
    from nethook.events import Event, Kind

    ifname = interface(args)
    assert ifname is not None  # the argument is required
    _require_link(ifname)
    take_snapshot(ctx, Event(source="cli", kind=Kind.PREPARE, reason="snapshot",
                             ifname=ifname))
    taken = load(ctx.run_dir, ifname)
    objects = [o.describe() for o in taken.objects()] if taken is not None else []
    text = (f"{ifname}: snapshot of {len(objects)} object(s)\n"
            + "".join(f"  {line}\n" for line in sorted(objects)))
    return Output(ExitCode.OK, "snapshot",
                  {"interface": ifname, "objects": sorted(objects)}, text)


# -- import, doctor --------------------------------------------------------------------------


def import_(args: argparse.Namespace, ctx: RunContext) -> Output:
    from nethook import importers
    from nethook.cli.render import import_header
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
    document = {"sources": names, "files": files, "problems": [str(p) for p in problems],
                "objects": [{"kind": type(o).__name__.lower(), "interface": o.ifname,
                             "object": o.describe(), "origin": str(o.origin)}
                            for o in kept]}
    text = to_yaml(kept, tables, import_header(names, files, problems))
    return Output(ExitCode.INCOMPLETE if problems else ExitCode.OK, "import", document, text)


def doctor(args: argparse.Namespace, ctx: RunContext) -> Output:
    import json

    from nethook.doctor.run import main as run_doctor

    as_json = bool(option(args, "json"))
    out = io.StringIO()
    code = run_doctor(ctx, fix=bool(args.fix), as_json=as_json, out=out)
    if as_json:
        return Output(code, "doctor", json.loads(out.getvalue()))
    return Output(code, text=out.getvalue())


# -- the ones that print no document ---------------------------------------------------------


def hook(args: argparse.Namespace, ctx: RunContext) -> Output:
    from nethook.cli.hook import run_hook

    return Output(run_hook(args.source, args.args, os.environ, ctx))


def watch(args: argparse.Namespace, ctx: RunContext) -> Output:
    from nethook.watch.daemon import Options, main

    return Output(main(ctx, Options(dbus=not args.no_dbus)))


def services_check(args: argparse.Namespace, ctx: RunContext) -> Output:
    from nethook.engine.services_check import check_pending

    ifname = interface(args)
    assert ifname is not None
    return Output(check_pending(ctx, ifname))


VERBS: Dict[str, Verb] = {
    "status": status, "check": check, "metrics": metrics, "plan": plan, "apply": apply,
    "replay": replay, "snapshot": snapshot, "import": import_, "doctor": doctor,
    "hook": hook, "watch": watch, "services-check": services_check,
}
NO_DOCUMENT = frozenset({"hook", "watch", "services-check"})
