"""Small pieces every command adapter shares: the context, store-name completion, selection."""

from __future__ import annotations

import os
from collections.abc import Callable
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


def complete_choices(*values: str) -> Callable[[str], list[str]]:
    """Shell completion offering fixed values (case-insensitive prefix match)."""

    def complete(incomplete: str) -> list[str]:
        return [v for v in values if v.lower().startswith(incomplete.lower())]

    return complete


def complete_statuses(incomplete: str) -> list[str]:
    """Shell completion for --status."""
    from soldscope_cli.status import Status

    return complete_choices(*(s.value for s in Status))(incomplete)


def complete_regions(incomplete: str) -> list[str]:
    """Shell completion for --region."""
    from soldscope_cli.amazon.marketplaces import REGIONS

    return complete_choices(*REGIONS)(incomplete)


def complete_marketplaces(incomplete: str) -> list[str]:
    """Shell completion for --marketplace: every country code soldscope knows."""
    from soldscope_cli.amazon.marketplaces import MARKETPLACES

    return complete_choices(*(m.code for m in MARKETPLACES))(incomplete)


def complete_datasets(incomplete: str) -> list[str]:
    """Shell completion for sync's --dataset."""
    from soldscope_cli.sync.base import DATASET_NAMES

    return complete_choices(*DATASET_NAMES)(incomplete)
