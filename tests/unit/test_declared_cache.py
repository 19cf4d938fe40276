"""The cache of what nethook's own files declare: the same answer as reading them, and a
miss (never a stale answer) as soon as any input differs.

Inputs are dated a minute back before a run caches them, and ``RACY_NS`` is 0 here, so
that the cache is written at once and a change made afterwards always carries a new
time; :func:`test_nothing_is_cached_from_files_changed_just_before` checks the margin
itself.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from nethook.base.context import RunContext
from nethook.config.rt_tables import listed_directories as table_dirs
from nethook.engine import declared_cache
from nethook.engine.declared_cache import CACHE_NAME, Reading
from nethook.engine.desired import Assembly, assemble
from nethook.importers import PRESENCE, ifcfg, ifupdown_files, netplan

CONFIG = """\
version: 1
interfaces:
  eth0:
    addresses:
      - 192.0.2.10/24
      - {address: 192.0.2.11/24, label: "eth0:web"}
    routes:
      - {to: default, via: 192.0.2.1, table: web}
    routing-policy:
      - {from: 192.0.2.11, table: web, priority: 100}
services:
  rate-limit: 30
  chrony: {wait: 3}
  units:
    - unit: nginx.service
      listen: [tcp/443@192.0.2.11]
metrics: {textfile: /var/lib/node-exporter}
"""
DROP_IN = "version: 1\ninterfaces:\n  eth1:\n    addresses: [198.51.100.5/24]\n"
IFUPDOWN = ("auto eth2\niface eth2 inet static\n    address 203.0.113.1/24\n"
            "iface eth2:0 inet static\n    address 203.0.113.9/24\n")


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunContext]:
    monkeypatch.setattr(declared_cache, "RACY_NS", 0)
    root = tmp_path / "root"
    (root / "etc" / "nethook" / "conf.d").mkdir(parents=True)
    (root / "etc" / "nethook" / "nethook.yaml").write_text(CONFIG)
    (root / "etc" / "iproute2").mkdir(parents=True)
    (root / "etc" / "iproute2" / "rt_tables").write_text("100 web\n")
    yield RunContext(root=root, state_dir=tmp_path / "state", run_dir=tmp_path / "run")


def _age(root: Path) -> None:
    """Everything under ``root`` dated a minute back (as files edited long ago)."""
    then = time.time() - 60
    for path in [root, *root.rglob("*")]:
        os.utime(path, (then, then), follow_symlinks=False)


def _cached(ctx: RunContext) -> Assembly:
    """An assembly that was written to the cache, and the one read back from it."""
    _age(ctx.root)
    first = assemble(ctx)
    assert (ctx.run_dir / CACHE_NAME).is_file()
    stamp = (ctx.run_dir / CACHE_NAME).stat().st_mtime_ns
    again = assemble(ctx)
    assert (ctx.run_dir / CACHE_NAME).stat().st_mtime_ns == stamp  # read, not rewritten
    _same(first, again)
    return again


def _same(a: Assembly, b: Assembly) -> None:
    assert a == b
    assert {o: o.origin for o in a.desired.objects()} == \
        {o: o.origin for o in b.desired.objects()}
    assert [u.origin for u in a.config.services.units] == \
        [u.origin for u in b.config.services.units]
    assert list(a.tables.names.items()) == list(b.tables.names.items())


def _addresses(assembly: Assembly) -> set[str]:
    return {f"{a.ifname} {a.interface}" for a in assembly.desired.addresses}


def test_the_cached_answer_is_the_one_the_files_give(ctx: RunContext) -> None:
    cached = _cached(ctx)
    assert cached.error is None
    assert _addresses(cached) == {"eth0 192.0.2.10/24", "eth0 192.0.2.11/24"}
    assert cached.tables.id_of("web") == 100
    assert cached.config.services.chrony.wait == 3
    assert str(cached.config.metrics_textfile) == "/var/lib/node-exporter"
    origins = {str(o.origin) for o in cached.desired.objects()}
    assert f"{ctx.root}/etc/nethook/nethook.yaml:5" in origins


def test_a_changed_file_is_read_again(ctx: RunContext) -> None:
    _cached(ctx)
    config = ctx.root / "etc" / "nethook" / "nethook.yaml"
    config.write_text(CONFIG.replace("192.0.2.10/24", "192.0.2.12/24"))  # same size
    assert _addresses(assemble(ctx)) == {"eth0 192.0.2.12/24", "eth0 192.0.2.11/24"}


def test_a_new_drop_in_and_a_removed_one_are_seen(ctx: RunContext) -> None:
    _cached(ctx)
    drop_in = ctx.root / "etc" / "nethook" / "conf.d" / "50-eth1.yaml"
    drop_in.write_text(DROP_IN)
    assert "eth1 198.51.100.5/24" in _addresses(assemble(ctx))
    _cached(ctx)
    drop_in.unlink()
    assert "eth1 198.51.100.5/24" not in _addresses(assemble(ctx))


def test_a_removed_main_file_is_seen(ctx: RunContext) -> None:
    _cached(ctx)
    (ctx.root / "etc" / "nethook" / "nethook.yaml").unlink()
    assert _addresses(assemble(ctx)) == set()


def test_a_replaced_rt_tables_is_seen(ctx: RunContext) -> None:
    _cached(ctx)
    new = ctx.root / "etc" / "iproute2" / "rt_tables.new"
    new.write_text("200 web\n")
    os.replace(new, ctx.root / "etc" / "iproute2" / "rt_tables")
    assert {r.table for r in assemble(ctx).desired.routes} == {200}


def test_a_new_rt_tables_drop_in_is_seen(ctx: RunContext) -> None:
    (ctx.root / "etc" / "iproute2" / "rt_tables").write_text("100 other\n")
    (ctx.root / "etc" / "iproute2" / "rt_tables.d").mkdir()
    (ctx.root / "etc" / "iproute2" / "rt_tables.d" / "web.conf").write_text("100 web\n")
    _cached(ctx)
    (ctx.root / "etc" / "iproute2" / "rt_tables.d" / "web.conf").write_text("300 web\n")
    assert {r.table for r in assemble(ctx).desired.routes} == {300}


def test_a_distro_source_that_appears_is_imported(ctx: RunContext) -> None:
    assert _cached(ctx).imported == ()
    interfaces = ctx.root / PRESENCE["ifupdown"][0]
    interfaces.parent.mkdir(parents=True)
    interfaces.write_text(IFUPDOWN)
    assert "eth2 203.0.113.9/24" in _addresses(assemble(ctx))


def test_a_cache_written_without_imports_learns_which_sources_are_present(
        ctx: RunContext) -> None:
    """A snapshot (no imports) caches the configuration first; the next restore adds
    which distro sources are present, so that later runs need not look."""
    _age(ctx.root)
    assemble(ctx, "eth0", imports=False)
    cache = ctx.run_dir / CACHE_NAME
    assert json.loads(cache.read_text())["present"] is None
    assemble(ctx, "eth0")
    assert json.loads(cache.read_text())["present"] == []
    stamp = cache.stat().st_mtime_ns
    assemble(ctx, "eth0")
    assert cache.stat().st_mtime_ns == stamp


def test_an_invalid_configuration_is_never_cached(ctx: RunContext) -> None:
    (ctx.root / "etc" / "nethook" / "conf.d" / "bad.yaml").write_text("version: 1\nfoo: 1\n")
    _age(ctx.root)
    assert assemble(ctx).config_error is not None
    assert not (ctx.run_dir / CACHE_NAME).exists()


@pytest.mark.parametrize("damage", [
    lambda data: "{not json",
    lambda data: json.dumps({**data, "header": [*data["header"][:2], "/elsewhere", None]}),
    lambda data: json.dumps({**data, "config": {**data["config"], "snapshot": "yes"}}),
    lambda data: json.dumps({**data, "config": {**data["config"], "objects": [
        {"kind": "address", "ifname": "eth0", "address": "not an address", "origin": [0, 1]}]}}),
    lambda data: json.dumps({k: v for k, v in data.items() if k != "tables"}),
])
def test_a_damaged_or_foreign_cache_is_a_miss(ctx: RunContext,
                                              damage: Callable[[Any], str]) -> None:
    good = _cached(ctx)
    path = ctx.run_dir / CACHE_NAME
    path.write_text(damage(json.loads(path.read_text())))
    _same(assemble(ctx), good)


def test_another_configuration_path_does_not_use_the_cache(ctx: RunContext,
                                                           tmp_path: Path) -> None:
    _cached(ctx)
    other = tmp_path / "other.yaml"
    other.write_text(DROP_IN)
    elsewhere = RunContext(root=ctx.root, config=other, state_dir=ctx.state_dir,
                           run_dir=ctx.run_dir)
    assert _addresses(assemble(elsewhere)) == {"eth1 198.51.100.5/24"}


def test_nothing_is_cached_from_files_changed_just_before(
        ctx: RunContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(declared_cache, "RACY_NS", 2_000_000_000)
    assemble(ctx)  # the files were written just now
    assert not (ctx.run_dir / CACHE_NAME).exists()
    _age(ctx.root)  # utime sets their ctime to now: still too recent
    assemble(ctx)
    assert not (ctx.run_dir / CACHE_NAME).exists()
    reading = Reading(ctx, clock=lambda: time.time_ns() + 3_000_000_000)
    parsed = declared_cache.Parsed(assemble(ctx).config, assemble(ctx).tables)
    assert reading.save(parsed)  # the same files, once the margin has passed


def test_what_changes_while_it_is_read_is_not_cached(ctx: RunContext) -> None:
    _age(ctx.root)
    reading = Reading(ctx)
    (ctx.root / "etc" / "nethook" / "conf.d" / "50-eth1.yaml").write_text(DROP_IN)
    assert not reading.save(declared_cache.Parsed(assemble(ctx).config,
                                                  assemble(ctx).tables))


def test_every_directory_read_is_watched(ctx: RunContext) -> None:
    """The presence table names what the importers look at; rt_tables' directories
    include the vendor ones iproute2 falls back to."""
    assert PRESENCE == {"ifcfg": (ifcfg.DIRECTORY,),
                        "ifupdown": (ifupdown_files.INTERFACES,),
                        "netplan": netplan.DIRECTORIES}
    assert ctx.root / "usr/share/iproute2" in table_dirs(ctx.root)
    assert ctx.root / "usr/lib/iproute2/rt_tables.d" in table_dirs(ctx.root)
