"""The datasets `sync` knows, in one table: name, aliases, label, sync module and its tables.

The runner, `sync --dataset` (values and help), `delete --purge-data` and docs/sync.md read it.
Adding a dataset is one sync module (soldscope_cli.sync.<name>), its db module (soldscope_cli.db),
a migration that creates its tables, and one line here. Importing this module imports no dataset:
the sync module is imported when the dataset runs, so `--help` and `list` stay light.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from soldscope_cli.db.model import BRAND_ANALYTICS, FINANCES, INVENTORY
from soldscope_cli.errors import UsageError

if TYPE_CHECKING:
    from soldscope_cli.sync.base import DatasetJob, DatasetOutcome


@dataclass(frozen=True)
class Dataset:
    """One dataset: how people name it, where its code and rows live."""

    name: str  # canonical, as stored in sync_runs and shown in --json
    label: str  # the table column heading
    aliases: tuple[str, ...]  # other spellings --dataset accepts
    module: str  # the module whose sync(job) pulls it
    tables: tuple[str, ...]  # where its rows live (removed by `delete --purge-data`)

    def sync(self, job: DatasetJob) -> DatasetOutcome:
        """Run the dataset's sync for one store."""
        outcome: DatasetOutcome = import_module(self.module).sync(job)
        return outcome


DATASETS: tuple[Dataset, ...] = (
    Dataset(
        INVENTORY,
        "Inventory",
        (),
        "soldscope_cli.sync.inventory",
        ("inventory_summaries",),
    ),
    Dataset(
        FINANCES,
        "Finances",
        ("finance",),
        "soldscope_cli.sync.finances",
        ("financial_transactions",),
    ),
    Dataset(
        BRAND_ANALYTICS,
        "Brand analytics",
        ("brand_analytics", "ba"),
        "soldscope_cli.sync.brand_analytics",
        ("ba_search_terms_rows", "ba_search_terms_weeks", "ba_search_terms_loads"),
    ),
)
NAMES: tuple[str, ...] = tuple(d.name for d in DATASETS)
BY_NAME: dict[str, Dataset] = {d.name: d for d in DATASETS}
_BY_SPELLING: dict[str, str] = {
    spelling: d.name for d in DATASETS for spelling in (d.name, *d.aliases)
}


def parse(values: Iterable[str]) -> tuple[str, ...]:
    """--dataset values in canonical order (all when none given); UsageError for unknown ones."""
    chosen: set[str] = set()
    for value in values:
        canonical = _BY_SPELLING.get(value.strip().lower())
        if canonical is None:
            raise UsageError(f"unknown dataset {value!r}", hint=f"use one of: {', '.join(NAMES)}")
        chosen.add(canonical)
    if not chosen:
        return NAMES
    return tuple(name for name in NAMES if name in chosen)


def data_tables() -> tuple[str, ...]:
    """Every dataset's tables, for purging a store's rows."""
    return tuple(table for d in DATASETS for table in d.tables)
