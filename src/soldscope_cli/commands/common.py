"""Small pieces every command adapter shares: the context, store-name completion, selection."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from soldscope_cli.context import AppContext


def get_context(ctx: typer.Context) -> AppContext:
    """The AppContext the root callback (or a test) put on the Typer context."""
    obj: AppContext = ctx.find_root().obj
    return obj


def complete_store_names(incomplete: str) -> list[str]:
    """Shell completion for NAME arguments: the configured store names (no keyring, no network)."""
    from soldscope_cli.errors import SoldscopeError
    from soldscope_cli.fleet.config import ConfigFile
    from soldscope_cli.fleet.paths import resolve_paths

    paths = resolve_paths(os.environ)
    try:
        config = ConfigFile(paths.config_file, paths.config_lock).load()
    except SoldscopeError:
        return []
    return [name for name in sorted(config.stores) if name.startswith(incomplete)]
