"""secrets: sealed secret values by name, the rows behind the `database` secret backend."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from soldscope_cli.db.model import SealedSecret, unchanged

_COLUMNS = SealedSecret.COLUMNS


class _Engine(Protocol):
    """The engine as this table sees it (soldscope_cli.db.sqlite.engine.Database)."""

    def connection(self) -> sqlite3.Connection: ...

    def transaction(
        self, conn: sqlite3.Connection | None = None
    ) -> AbstractContextManager[sqlite3.Connection]: ...

    def store_id(self, name: str, tx: sqlite3.Connection | None = None) -> int: ...

    def live_store_id(self, name: str) -> int | None: ...


class SecretRowsTable:
    """The secrets table; each write is one transaction, or part of the caller's."""

    def __init__(self, db: _Engine) -> None:
        self._db = db

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        # `delete` removes a store's token inside the transaction that marks it deleted, on this
        # thread's connection: a nested BEGIN would fail, and the token must roll back with it.
        conn = self._db.connection()
        if conn.in_transaction:
            yield conn
            return
        with self._db.transaction(conn) as tx:
            yield tx

    def get(self, name: str) -> SealedSecret | None:
        """The row of one secret, or None."""
        found = (
            self._db.connection()
            .execute(f"SELECT {_COLUMNS} FROM secrets WHERE name = ?", (name,))  # noqa: S608
            .fetchone()
        )
        return None if found is None else SealedSecret.from_row(found)

    def put(self, secret: SealedSecret, *, check: SealedSecret) -> bool:
        """Insert or replace a row while the key check is `check`; False (nothing written) if not."""
        with self._writing() as tx:
            current = tx.execute(
                f"SELECT {_COLUMNS} FROM secrets WHERE name = ?",  # noqa: S608
                (check.name,),
            ).fetchone()
            if current is None:
                self._upsert(tx, check)
            elif not check.same_seal(SealedSecret.from_row(current)):
                return False
            self._upsert(tx, secret)
        return True

    @staticmethod
    def _upsert(tx: sqlite3.Connection, secret: SealedSecret) -> None:
        tx.execute(
            "INSERT INTO secrets (name, nonce, ciphertext, store_id) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce,"
            " ciphertext = excluded.ciphertext, store_id = excluded.store_id",
            (secret.name, secret.nonce, secret.ciphertext, secret.store_id),
        )

    def delete(self, name: str) -> None:
        """Remove one secret (absent is fine)."""
        with self._writing() as tx:
            tx.execute("DELETE FROM secrets WHERE name = ?", (name,))

    def all(self) -> list[SealedSecret]:
        """Every row, the key check included, by name."""
        rows = self._db.connection().execute(
            f"SELECT {_COLUMNS} FROM secrets ORDER BY name"  # noqa: S608
        )
        return [SealedSecret.from_row(r) for r in rows]

    def replace_all(self, before: Sequence[SealedSecret], after: Sequence[SealedSecret]) -> bool:
        """Swap every row for `after` in one transaction, only if the table still holds `before`.

        False, with nothing changed, when another process wrote or removed a secret meanwhile.
        """
        with self._writing() as tx:
            current = [
                SealedSecret.from_row(r)
                for r in tx.execute(f"SELECT {SealedSecret.COLUMNS} FROM secrets").fetchall()  # noqa: S608
            ]
            if not unchanged(current, before):
                return False
            tx.execute("DELETE FROM secrets")
            for secret in after:
                self._upsert(tx, secret)
        return True

    def store_id(self, name: str) -> int:
        """The live connection's id, created if the database has none yet (connect's first write)."""
        conn = self._db.connection()
        return self._db.store_id(name, conn if conn.in_transaction else None)

    def live_store_id(self, name: str) -> int | None:
        """The live connection's id, or None."""
        return self._db.live_store_id(name)
