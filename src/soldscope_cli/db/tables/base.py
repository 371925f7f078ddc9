"""The engine as table code sees it: transactions that yield a `Tx`, and store names."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from soldscope_cli.db.sql import Dialect, Tx


class Engine(Protocol):
    """What db.sqlite's and db.postgres's Database give the tables."""

    dialect: Dialect

    def reading(self) -> AbstractContextManager[Tx]:
        """This thread's connection for a read (PostgreSQL: in a short transaction)."""
        ...

    def session(self) -> Tx:
        """This thread's connection, no transaction begun (a stream begins its own)."""
        ...

    def writing(self) -> AbstractContextManager[Tx]:
        """A write transaction; inside one this thread already holds, it joins that one."""
        ...

    def store_transaction(self, store_id: int) -> AbstractContextManager[Tx]:
        """A write transaction for one live store (StoreDeleted once it was deleted)."""
        ...

    def store_name(self, store_id: int) -> str: ...


class DatasetReads(Protocol):
    """What `data` and `export` read of one dataset's tables (each dataset's table implements it)."""

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names of what export yields."""
        ...

    def figures(self, store_id: int) -> tuple[int, str | None]: ...

    def export(
        self, store_id: int, since: str | None, size: int
    ) -> Iterator[list[tuple[Any, ...]]]: ...
