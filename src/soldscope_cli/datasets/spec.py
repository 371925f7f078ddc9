"""What a dataset declaration holds: the one object every part reads a dataset from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module
from typing import TYPE_CHECKING, Any

from soldscope_cli.datasets.schema import Table

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class Limit:
    """A per-dataset span of config.toml (`[stale]`, `[watch]`): a whole number of hours or days."""

    amount: int
    unit: str  # "hours" or "days"

    def __post_init__(self) -> None:
        if self.unit not in ("hours", "days"):
            raise ValueError(f"unit {self.unit!r}")

    @property
    def span(self) -> timedelta:
        """The limit as a duration."""
        return timedelta(**{self.unit: self.amount})


@dataclass(frozen=True)
class Option:
    """A setting of one dataset: `sync` takes it as a flag, config.toml's `[sync]` as a key.

    The flag wins over the key, the key over the default; both must lie within the bounds.
    """

    key: str  # the config key and the name the dataset reads it by, e.g. "ba_weeks"
    flag: str  # e.g. "--ba-weeks"
    default: int
    minimum: int
    maximum: int
    help: str
    hint: str  # what to do instead when a value is out of bounds

    def check(self, value: int, where: str) -> int:
        """The value, or ValueError naming `where` (the flag, or the config key) and the bounds."""
        if not self.minimum <= value <= self.maximum:
            raise ValueError(
                f"{where} must be between {self.minimum} and {self.maximum}, not {value}"
            )
        return value


@dataclass(frozen=True)
class Dataset:
    """One dataset: how people name it, where its rows live, how fresh it must stay, and what
    syncs it."""

    name: str  # canonical, as stored in sync_runs and shown in --json
    label: str  # the table column heading
    aliases: tuple[str, ...]  # other spellings --dataset accepts
    module: str  # the module whose sync(job) pulls it (imported when it runs)
    tables: tuple[Table, ...]  # children first: `delete --purge-data` removes them in order
    cursor: str  # how its sync knows where to go on (docs)
    stale: Limit  # [stale] default: how old its last good sync may be
    watch: Limit  # [watch] default: how often `sync --watch` syncs it
    options: tuple[Option, ...] = ()
    # The table `data` counts and `export` reads, by the declaration; None where the storage
    # reads it its own way (Brand Analytics: weeks published by a mark).
    reads: Table | None = None
    # The migration that creates its tables from the declaration (both engines), by name; None
    # for the datasets of the first releases, created by released migrations.
    migration: str | None = None
    # The Seller Central role a 403 of its API means the app lacks ("Brand Analytics"), for the
    # fix a `not_authorized` result names; None: the role is not known for sure.
    role: str | None = None

    @property
    def key(self) -> str:
        """The name as config.toml spells it (`brand_analytics`)."""
        return self.name.replace("-", "_")

    @property
    def table_names(self) -> tuple[str, ...]:
        """Where its rows live."""
        return tuple(t.name for t in self.tables)

    def sync(self, job: Any) -> Any:
        """Run the dataset's sync for one store (a sync.base.DatasetJob)."""
        run: Callable[[Any], Any] = import_module(self.module).sync
        return run(job)
