"""``nethook metrics``: the Prometheus text exposition format (0.0.4), for node_exporter.

Families (labels are bounded: interfaces, kinds, states, sources, services):

* ``nethook_up``: 1 when the check could run (0: the kernel or nethook's directories could
  not be read; the other families are then left out);
* ``nethook_config_valid``: 1 when the configuration and what it imports are usable;
* ``nethook_objects{interface,kind,state}``: what nethook keeps, by state (present,
  missing, different, no_link);
* ``nethook_restores_total{interface,source}``: objects put back since the counters began;
* ``nethook_last_event_timestamp_seconds{interface}``: the newest journal entry;
* ``nethook_service_listeners{service,state}``: listeners watched services must have;
* ``nethook_watcher_up``: 1 when the watcher answers on its socket.

``--textfile DIR`` writes ``DIR/nethook.prom`` for node_exporter's textfile collector: a
temporary file in DIR, renamed over the old one, so the collector never reads half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Tuple

from nethook.base.errors import NethookError
from nethook.monitor.facts import Facts, entry_time

TEXTFILE_NAME = "nethook.prom"
Labels = Tuple[Tuple[str, str], ...]


class Family:
    """One metric family: its help, type and samples."""

    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name, self.kind, self.help = name, kind, help_text
        self.samples: List[Tuple[Labels, float]] = []

    def add(self, value: float, **labels: str) -> Family:
        self.samples.append((tuple(sorted(labels.items())), value))
        return self

    def lines(self) -> List[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in self.samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            out.append(f"{self.name}{{{text}}} {_number(value)}" if text
                       else f"{self.name} {_number(value)}")
        return out


def exposition(facts: Facts) -> str:
    families = [
        Family("nethook_up", "gauge", "Whether nethook could read the kernel and its state.")
        .add(1),
        Family("nethook_config_valid", "gauge",
               "Whether the configuration and the files it imports are usable.")
        .add(1 if facts.config_valid else 0),
        _objects(facts), _restores(facts.restores_total), _last_events(facts),
        _listeners(facts),
        Family("nethook_watcher_up", "gauge", "Whether the watcher answers on its socket.")
        .add(1 if facts.watcher.get("running") else 0),
    ]
    return render(families)


def down() -> str:
    """What a scrape says when the check could not run at all."""
    return render([Family("nethook_up", "gauge",
                          "Whether nethook could read the kernel and its state.").add(0)])


def render(families: Iterable[Family]) -> str:
    return "".join(line + "\n" for family in families for line in family.lines())


def _objects(facts: Facts) -> Family:
    family = Family("nethook_objects", "gauge",
                    "Objects nethook keeps, by interface, kind and state in the kernel.")
    counts = Counter((a.target.ifname or "", type(a.target).__name__.lower(),
                      a.state.name.lower()) for a in facts.assessments)
    for (interface, kind, state), count in sorted(counts.items()):
        family.add(count, interface=interface, kind=kind, state=state)
    return family


def _restores(totals: Mapping[Tuple[str, str], int]) -> Family:
    family = Family("nethook_restores_total", "counter",
                    "Objects nethook put back, by interface and the source of the event.")
    for (interface, source), count in sorted(totals.items()):
        family.add(count, interface=interface, source=source)
    return family


def _last_events(facts: Facts) -> Family:
    family = Family("nethook_last_event_timestamp_seconds", "gauge",
                    "When nethook last handled an event of the interface (Unix time).")
    for interface, entry in sorted(facts.last_events.items()):
        when = entry_time(entry)
        if when is not None:
            family.add(when.timestamp(), interface=interface)
    return family


def _listeners(facts: Facts) -> Family:
    family = Family("nethook_service_listeners", "gauge",
                    "Listeners watched services must have on kept addresses, by state.")
    counts: Dict[Tuple[str, str], int] = {}
    for watched in facts.services:
        for row in watched.rows:
            key = (watched.service, row.state.lower())
            counts[key] = counts.get(key, 0) + 1
    for (name, state), count in sorted(counts.items()):
        family.add(count, service=name, state=state)
    return family


def write_textfile(directory: Path, text: str) -> Path:
    """``DIR/nethook.prom``, replaced atomically and readable by node_exporter (0644)."""
    if not directory.is_dir():
        raise NethookError(f"{directory} is not a directory (node_exporter's textfile "
                           "collector reads *.prom files from one)")
    fd, temporary = tempfile.mkstemp(prefix=f".{TEXTFILE_NAME}.", dir=str(directory))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o644)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        target = directory / TEXTFILE_NAME
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return target


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
