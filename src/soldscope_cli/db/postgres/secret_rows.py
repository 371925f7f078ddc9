"""secrets on PostgreSQL: the sealed rows behind the `database` secret backend, shared by hosts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from soldscope_cli.db.model import SealedSecret
from soldscope_cli.db.postgres.state import Conn

_COLUMNS = "name, nonce, ciphertext, store_id"


class _Engine(Protocol):
    def transaction(self, conn: Conn | None = None) -> Any: ...

    def store_id(self, name: str, tx: Conn | None = None) -> int: ...

    def live_store_id(self, name: str) -> int | None: ...

    def query(
        self, sql: str, params: Sequence[Any] = (), tx: Conn | None = None
    ) -> list[tuple[Any, ...]]: ...


def _row(row: Sequence[Any]) -> SealedSecret:
    return SealedSecret(
        str(row[0]), bytes(row[1]), bytes(row[2]), None if row[3] is None else int(row[3])
    )


def _same(found: SealedSecret | None, expected: SealedSecret) -> bool:
    return found is not None and (found.nonce, found.ciphertext) == (
        expected.nonce,
        expected.ciphertext,
    )


class SecretRowsTable:
    """Each write is one transaction; inside the caller's (e.g. a delete's) it is a savepoint of it."""

    def __init__(self, db: _Engine) -> None:
        self._db = db

    def get(self, name: str) -> SealedSecret | None:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM secrets WHERE name = %s", (name,))  # noqa: S608
        return _row(rows[0]) if rows else None

    def put(self, secret: SealedSecret, *, check: SealedSecret) -> bool:
        with self._db.transaction() as tx:
            # The check row, locked: a rotation (which replaces it) waits for this write or wins.
            current = tx.execute(
                f"SELECT {_COLUMNS} FROM secrets WHERE name = %s FOR UPDATE",  # noqa: S608
                (check.name,),
            ).fetchone()
            if current is None:
                self._upsert(tx, check)
            elif not _same(_row(current), check):
                return False
            self._upsert(tx, secret)
        return True

    @staticmethod
    def _upsert(tx: Conn, secret: SealedSecret) -> None:
        tx.execute(
            "INSERT INTO secrets (name, nonce, ciphertext, store_id) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce,"
            " ciphertext = excluded.ciphertext, store_id = excluded.store_id",
            (secret.name, secret.nonce, secret.ciphertext, secret.store_id),
        )

    def delete(self, name: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM secrets WHERE name = %s", (name,))

    def all(self) -> list[SealedSecret]:
        return [_row(r) for r in self._db.query(f"SELECT {_COLUMNS} FROM secrets ORDER BY name")]  # noqa: S608

    def replace_all(self, before: Sequence[SealedSecret], after: Sequence[SealedSecret]) -> bool:
        expected = {s.name: s for s in before}
        with self._db.transaction() as tx:
            tx.execute("LOCK TABLE secrets IN EXCLUSIVE MODE")  # no write slips in mid-rotation
            current = {
                r.name: r
                for r in map(_row, tx.execute(f"SELECT {_COLUMNS} FROM secrets").fetchall())  # noqa: S608
            }
            if current.keys() != expected.keys() or not all(
                _same(current[name], row) for name, row in expected.items()
            ):
                return False
            tx.execute("DELETE FROM secrets")
            for secret in after:
                self._upsert(tx, secret)
        return True

    def store_id(self, name: str) -> int:
        return self._db.store_id(name)

    def live_store_id(self, name: str) -> int | None:
        return self._db.live_store_id(name)
