"""The team's store registry: the stores every host sees, as columns of the `stores` table.

A live `stores` row is a store of the fleet once it has its authorization time (a row made by
an early token write, before the connect finished, is not). The namespace that every host's
secret-store keys share lives in team_settings, made by the migration.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from soldscope_cli.db.model import RegistryRecord
from soldscope_cli.db.postgres.claims import LOCK_CLASS
from soldscope_cli.db.postgres.dialect import DIALECT
from soldscope_cli.db.postgres.state import Conn
from soldscope_cli.db.sql import Tx

_BASE_FIELDS = (
    "name, region, marketplaces, authorized_at, selling_partner_id, region_wide, self_authorized"
)
_FIELDS = f"{_BASE_FIELDS}, store_names"

# The second advisory lock key of registry writes: store claims use store ids, which start at 1.
REGISTRY_LOCK = 0


def _store_names(value: Any) -> tuple[tuple[str, str], ...]:
    if not value:
        return ()
    try:
        names = json.loads(str(value))
    except ValueError:
        return ()  # not written by soldscope: as if never recorded
    if not isinstance(names, dict):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in names.items()))


class _Engine(Protocol):
    def transaction(self, conn: Conn | None = None) -> Any: ...

    def query(
        self, sql: str, params: Sequence[Any] = (), tx: Conn | None = None
    ) -> list[tuple[Any, ...]]: ...

    def event_in(
        self, tx: Tx, kind: str, at: datetime, name: str, store_id: int | None, detail: Any
    ) -> None: ...

    def remember(self, name: str, store_id: int) -> None: ...


def _values(record: RegistryRecord) -> tuple[Any, ...]:
    """The registry columns after the name, in _FIELDS order."""
    return (
        record.region,
        list(record.marketplaces),
        record.authorized_at,
        record.selling_partner_id,
        record.region_wide,
        record.self_authorized,
        json.dumps(dict(record.store_names)) if record.store_names else None,
    )


def insert_record(tx: Conn, record: RegistryRecord, created_at: datetime | str) -> int:
    """A new live connection with its registry columns (the caller holds the transaction)."""
    row = tx.execute(
        f"INSERT INTO stores ({_FIELDS}, created_at)"  # noqa: S608
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (record.name, *_values(record), created_at),
    ).fetchone()
    assert row is not None  # RETURNING of an INSERT
    return int(row[0])


class Registry:
    def __init__(self, db: _Engine) -> None:
        self._db = db

    def records(self, tx: Conn | None = None, *, names: bool = True) -> list[RegistryRecord]:
        """Every live store of the fleet, by name (names=False: a database before 0420, read
        without migrating, has no store names yet)."""
        fields = _FIELDS if names else _BASE_FIELDS
        rows = self._db.query(
            f"SELECT {fields} FROM stores"  # noqa: S608
            " WHERE deleted_at IS NULL AND authorized_at IS NOT NULL ORDER BY name",
            (),
            tx,
        )
        return [
            RegistryRecord(
                name=str(r[0]),
                region=str(r[1]),
                marketplaces=tuple(r[2] or ()),
                authorized_at=r[3],
                selling_partner_id=r[4],
                region_wide=bool(r[5]),
                self_authorized=bool(r[6]),
                store_names=_store_names(r[7]) if names else (),
            )
            for r in rows
        ]

    def save(
        self,
        record: RegistryRecord,
        at: datetime,
        *,
        detail: Mapping[str, Any] | None = None,
        inside: Callable[[list[RegistryRecord]], None] | None = None,
    ) -> tuple[int, bool]:
        """Add or renew a store with its `connected`/`reauthorized` event, in one transaction.

        A renewal keeps the connection's id, and so its history and data. `inside` runs first in
        that transaction with every store of the fleet, while no other host saves a store: its
        checks see every store saved before, and an exception from it writes nothing.
        """
        values = _values(record)
        with self._db.transaction() as tx:
            # Registry writes of every host, one at a time until this transaction ends.
            tx.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, REGISTRY_LOCK))
            if inside is not None:
                inside(self.records(tx))
            found = tx.execute(
                "SELECT id, authorized_at FROM stores WHERE name = %s AND deleted_at IS NULL"
                " FOR UPDATE",
                (record.name,),
            ).fetchone()
            renewed = found is not None and found[1] is not None
            if found is None:
                store_id = insert_record(tx, record, at)
            else:
                store_id = int(found[0])
                tx.execute(
                    "UPDATE stores SET region = %s, marketplaces = %s, authorized_at = %s,"
                    " selling_partner_id = %s, region_wide = %s, self_authorized = %s,"
                    " store_names = %s WHERE id = %s",
                    (*values, store_id),
                )
            self._db.event_in(
                Tx(tx, DIALECT),
                "reauthorized" if renewed else "connected",
                at,
                record.name,
                store_id,
                dict(detail) if detail else None,
            )
        self._db.remember(record.name, store_id)
        return store_id, renewed

    def namespace(self) -> str:
        """The secret-store namespace every host of this team database uses."""
        rows = self._db.query("SELECT value FROM team_settings WHERE key = 'namespace'")
        return str(rows[0][0])

    def client_secret_set_at(self, tx: Conn | None = None) -> datetime | None:
        """When the team's LWA client secret was last stored (`app set` on any host), if known."""
        rows = self._db.query(
            "SELECT value FROM team_settings WHERE key = 'client_secret_set_at'", (), tx
        )
        if not rows:
            return None
        try:
            return datetime.fromisoformat(str(rows[0][0]))
        except ValueError:
            return None  # not written by soldscope: unknown, as if never recorded

    def set_client_secret_set_at(self, when: datetime | None) -> None:
        """Record when the team's client secret was stored, for every host's rotation reminder
        (None: not known)."""
        with self._db.transaction() as tx:
            if when is None:
                tx.execute("DELETE FROM team_settings WHERE key = 'client_secret_set_at'")
                return
            tx.execute(
                "INSERT INTO team_settings (key, value) VALUES ('client_secret_set_at', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (when.isoformat(),),
            )
