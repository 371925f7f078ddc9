"""The datasets soldscope knows, in one tuple: adding a dataset is its declaration and one line.

The runner, `sync --dataset` and the dataset options, `delete --purge-data`, `data`, `export`,
`team import`, config.toml's `[stale]`, `[watch]` and `[sync]`, and docs/sync.md read it.
Importing it imports no sync code: a dataset's sync module is imported when the dataset runs,
so `--help` and `list` stay light.
"""

from __future__ import annotations

from collections.abc import Iterable

from soldscope_cli.datasets import (
    brand_analytics,
    finances,
    inventory,
    orders,
    reimbursements,
    returns,
    sales_traffic,
    settlements,
)
from soldscope_cli.datasets.spec import Dataset, Option
from soldscope_cli.errors import UsageError

DATASETS: tuple[Dataset, ...] = (
    inventory.DATASET,
    finances.DATASET,
    brand_analytics.DATASET,
    settlements.DATASET,
    sales_traffic.DATASET,
    orders.DATASET,
    returns.DATASET,
    reimbursements.DATASET,
)

NAMES: tuple[str, ...] = tuple(d.name for d in DATASETS)
BY_NAME: dict[str, Dataset] = {d.name: d for d in DATASETS}
_BY_SPELLING: dict[str, str] = {
    spelling: d.name for d in DATASETS for spelling in (d.name, *d.aliases)
}
# Every dataset's options, by config key (`ba_weeks`); keys are unique across datasets.
OPTIONS: dict[str, Option] = {o.key: o for d in DATASETS for o in d.options}


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
    return tuple(name for d in DATASETS for name in d.table_names)


def stale_defaults() -> dict[str, int]:
    """config.toml's `[stale]` keys (`inventory_hours`, ...) and their defaults."""
    return {f"{d.key}_{d.stale.unit}": d.stale.amount for d in DATASETS}


def watch_defaults() -> dict[str, int]:
    """config.toml's `[watch]` keys and their defaults."""
    return {f"{d.key}_{d.watch.unit}": d.watch.amount for d in DATASETS}
