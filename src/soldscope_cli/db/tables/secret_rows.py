"""secrets: sealed secret values by name, the rows behind the `database` secret backend.

Each write is one transaction; inside the caller's (`delete` removes a store's token inside the
transaction that marks it deleted) it joins it, so the token rolls back with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from soldscope_cli.db.model import SealedSecret, unchanged
from soldscope_cli.db.sql import Tx
from soldscope_cli.db.tables.base import Engine

_COLUMNS = SealedSecret.COLUMNS


class _Engine(Engine, Protocol):
    def store_id(self, name: str, tx: Tx | None = None) -> int: ...

    def live_store_id(self, name: str) -> int | None: ...


class SecretRowsTable:
    """The secrets table; opaque bytes only (no key reaches the engine)."""

    def __init__(self, db: _Engine) -> None:
        self._db = db

    def get(self, name: str) -> SealedSecret | None:
        """The row of one secret, or None."""
        with self._db.reading() as tx:
            found = tx.one(f"SELECT {_COLUMNS} FROM secrets WHERE name = ?", (name,))  # noqa: S608
        return None if found is None else SealedSecret.from_row(found)

    def put(self, secret: SealedSecret, *, check: SealedSecret) -> bool:
        """Insert or replace a row while the key check is `check`; False (nothing written) if not."""
        with self._db.writing() as tx:
            # The check row, locked: a rotation (which replaces it) waits for this write or wins.
            current = tx.one(
                f"SELECT {_COLUMNS} FROM secrets WHERE name = ?{tx.d.lock()}",  # noqa: S608
                (check.name,),
            )
            if current is None:
                _upsert(tx, check)
            elif not check.same_seal(SealedSecret.from_row(current)):
                return False
            _upsert(tx, secret)
        return True

    def delete(self, name: str) -> None:
        """Remove one secret (absent is fine)."""
        with self._db.writing() as tx:
            tx.execute("DELETE FROM secrets WHERE name = ?", (name,))

    def all(self) -> list[SealedSecret]:
        """Every row, the key check included, by name."""
        with self._db.reading() as tx:
            rows = tx.all(f"SELECT {_COLUMNS} FROM secrets ORDER BY name")  # noqa: S608
        return [SealedSecret.from_row(r) for r in rows]

    def replace_all(self, before: Sequence[SealedSecret], after: Sequence[SealedSecret]) -> bool:
        """Swap every row for `after` in one transaction, only if the table still holds `before`.

        False, with nothing changed, when another process wrote or removed a secret meanwhile.
        """
        with self._db.writing() as tx:
            tx.d.lock_table(tx, "secrets")  # no write slips in mid-rotation
            current = [
                SealedSecret.from_row(r)
                for r in tx.all(f"SELECT {_COLUMNS} FROM secrets")  # noqa: S608
            ]
            if not unchanged(current, before):
                return False
            tx.execute("DELETE FROM secrets")
            for secret in after:
                _upsert(tx, secret)
        return True

    def store_id(self, name: str) -> int:
        """The live connection's id, created if the database has none yet (connect's first write)."""
        return self._db.store_id(name)

    def live_store_id(self, name: str) -> int | None:
        """The live connection's id, or None."""
        return self._db.live_store_id(name)


def _upsert(tx: Tx, secret: SealedSecret) -> None:
    tx.execute(
        "INSERT INTO secrets (name, nonce, ciphertext, store_id) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce,"
        " ciphertext = excluded.ciphertext, store_id = excluded.store_id",
        (secret.name, secret.nonce, secret.ciphertext, secret.store_id),
    )
