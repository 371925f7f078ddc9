"""What `soldscope export` streams: one dataset's rows of the chosen stores, from the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from soldscope_cli.datasets.registry import parse
from soldscope_cli.db.interface import StateReads
from soldscope_cli.db.model import ExportBatches
from soldscope_cli.fleet.config import Config, select_stores

BATCH_ROWS = 5000


def dataset_name(value: str) -> str:
    """The canonical name of one dataset (aliases accepted); UsageError for an unknown one."""
    return parse([value])[0]


def run_export(
    config: Config,
    db: StateReads,
    dataset: str,
    names: Sequence[str],
    since: datetime | None,
) -> ExportBatches:
    """The dataset's columns and a stream of row batches of the named stores (all by default).

    Only live connections are exported: a deleted store's unpurged rows are not a client's data
    any more. Nothing is read until the batches are iterated.
    """
    records = select_stores(config, names)
    ids = [i for i in (db.live_store_id(r.name) for r in records) if i is not None]
    return db.export(dataset_name(dataset), ids, since=since, size=BATCH_ROWS)
