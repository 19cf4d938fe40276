"""Where desired state comes from: the configuration (later also imports and snapshots)."""

from __future__ import annotations

from nethook.config import Config, discover, load
from nethook.context import RunContext
from nethook.rt_tables import load_tables


def load_config(ctx: RunContext) -> Config:
    """Read the configuration under the context's root; ConfigError on any invalid file."""
    return load(discover(ctx.root, ctx.config), load_tables(ctx.root))
