"""secrets on PostgreSQL: the sealed rows behind the `database` secret backend, shared by hosts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from soldscope_cli.db.model import SealedSecret, unchanged
from soldscope_cli.db.postgres.state import Conn

_COLUMNS = SealedSecret.COLUMNS


class _Engine(Protocol):
    def transaction(self, conn: Conn | None = None) -> Any: ...

    def store_id(self, name: str, tx: Conn | None = None) -> int: ...

    def live_store_id(self, name: str) -> int | None: ...

    def query(
        self, sql: str, params: Sequence[Any] = (), tx: Conn | None = None
    ) -> list[tuple[Any, ...]]: ...


class SecretRowsTable:
    """Each write is one transaction; inside the caller's (e.g. a delete's) it is a savepoint of it."""

    def __init__(self, db: _Engine) -> None:
        self._db = db

    def get(self, name: str) -> SealedSecret | None:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM secrets WHERE name = %s", (name,))  # noqa: S608
        return SealedSecret.from_row(rows[0]) if rows else None

    def put(self, secret: SealedSecret, *, check: SealedSecret) -> bool:
        with self._db.transaction() as tx:
            # The check row, locked: a rotation (which replaces it) waits for this write or wins.
            current = tx.execute(
                f"SELECT {_COLUMNS} FROM secrets WHERE name = %s FOR UPDATE",  # noqa: S608
                (check.name,),
            ).fetchone()
            if current is None:
                self._upsert(tx, check)
            elif not check.same_seal(SealedSecret.from_row(current)):
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
        rows = self._db.query(f"SELECT {_COLUMNS} FROM secrets ORDER BY name")  # noqa: S608
        return [SealedSecret.from_row(r) for r in rows]

    def replace_all(self, before: Sequence[SealedSecret], after: Sequence[SealedSecret]) -> bool:
        with self._db.transaction() as tx:
            tx.execute("LOCK TABLE secrets IN EXCLUSIVE MODE")  # no write slips in mid-rotation
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
        return self._db.store_id(name)

    def live_store_id(self, name: str) -> int | None:
        return self._db.live_store_id(name)
