"""A data table declared once: its columns with their kinds, key, indexes and how it is read.

Both engines (soldscope_cli.db) derive everything from the declaration: the DDL of a new table
(each engine's dialect maps a kind to its type), the upsert of a page, `data`'s figures,
`export`'s columns and order, `delete --purge-data` and the tables `team import` copies. The
tables of the first releases were created by released migrations; a test holds every declaration
against the schema both engines migrate to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """What a column holds; each dialect maps it to its own type and its export text."""

    ID = "id"  # a row id or a reference to one (stores.id)
    TEXT = "text"
    INT = "int"
    REAL = "real"
    DECIMAL = "decimal"  # exact: Amazon's amounts ("-12.34"), never a float
    TIME = "time"  # ours, UTC: exported as model.to_db_time writes it
    AMAZON_TIME = "amazon_time"  # Amazon's, exported as Amazon wrote it (kept in `raw`)
    DATE = "date"  # YYYY-MM-DD
    JSON = "json"  # Amazon's raw object


@dataclass(frozen=True)
class Column:
    """One column; raw_key names where `raw` keeps an AMAZON_TIME as Amazon wrote it."""

    name: str
    kind: Kind = Kind.TEXT
    required: bool = False
    raw_key: str | None = None


@dataclass(frozen=True)
class Table:
    """A table that holds one dataset's rows of every store (first column store_id)."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # the primary key, store_id first
    indexes: tuple[tuple[str, ...], ...] = ()  # each (store_id, ...) for the reads below
    newest: str | None = None  # the column `data` reports the newest value of
    since: str | None = None  # the SQL expression `export --since` compares (UTC)
    order: tuple[str, ...] = ()  # export order within a store
    copy_order: str = ""  # the order `team import` copies rows in
    # Rows keep the order they were written in (a document's order, for export): SQLite's rowid,
    # a `seq` identity column first in PostgreSQL.
    keeps_order: bool = False
    # A key column (after store_id) that names a group of rows a document always gives whole,
    # such as an order's lines: a document load replaces each group it brings, so a row a later
    # document no longer has (a line merged into another) does not stay behind.
    whole_group: str | None = None
    # The newest value is kept in a sync_state mark (newest_key) by the transaction that writes
    # rows, instead of being looked up through an index: an index on a column whose values come
    # in no key order costs a bulk load as much as a third of its upsert.
    newest_mark: bool = False

    def __post_init__(self) -> None:
        names = self.names
        group = () if self.whole_group is None else (self.whole_group,)
        missing = [c for c in (*self.key, *self.order, *group) if c not in names]
        if missing or (self.newest is not None and self.newest not in names):
            raise ValueError(f"{self.name}: unknown columns {missing or [self.newest]}")
        if self.newest_mark and self.newest is None:
            raise ValueError(f"{self.name}: newest_mark without a newest column")

    @property
    def newest_key(self) -> str:
        """The sync_state key of the table's newest value (newest_mark)."""
        return f"newest:{self.name}"

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in table order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The column called `name`."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def export_columns(self) -> tuple[Column, ...]:
        """What `export` prints: every column but the internal id and Amazon's raw object."""
        return tuple(c for c in self.columns if c.name not in ("store_id", "raw"))

    @property
    def copied_columns(self) -> tuple[str, ...]:
        """What `team import` copies per connection: every column but store_id."""
        return tuple(c.name for c in self.columns if c.name != "store_id")


def store_columns() -> tuple[Column, ...]:
    """The two columns every dataset table starts with: the connection's id and its name."""
    return (Column("store_id", Kind.ID, required=True), Column("store", required=True))


def synced_at() -> Column:
    """When soldscope stored the row."""
    return Column("synced_at", Kind.TIME, required=True)


def raw() -> Column:
    """Amazon's object as it came, for what the columns leave out."""
    return Column("raw", Kind.JSON, required=True)
