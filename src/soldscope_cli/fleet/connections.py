"""The only code that changes config records and secret-store entries together.

Every change keeps the two consistent: a store never exists without its token, and a token is never
left behind by a store that was removed. When the second write fails the first is undone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from soldscope_cli.db.interface import Database
from soldscope_cli.errors import UsageError
from soldscope_cli.fleet.config import ConfigFile, StoreRecord, store_hint
from soldscope_cli.fleet.secrets import SecretStore, token_key


def unknown_store(name: str, known: Iterable[str] = ()) -> UsageError:
    """The error for a NAME that is not configured, suggesting the nearest configured names."""
    return UsageError(f"no store named {name!r}", hint=store_hint([name], known))


def save_connection(
    config_file: ConfigFile,
    secrets: SecretStore,
    db: Database | None,
    record: StoreRecord,
    refresh_token: str,
    now: datetime,
) -> bool:
    """Store (or renew) a connection: token first, then the record; returns True if it renewed."""
    key = token_key(record.name)
    previous = secrets.get(key)
    secrets.set(key, refresh_token)
    try:
        with config_file.edit() as config:
            renewed = record.name in config.stores
            config.stores[record.name] = record
    except BaseException:
        if previous is None:
            secrets.delete(key)
        else:
            secrets.set(key, previous)
        raise
    if db is not None:
        # A renewal keeps the connection's id (and so its history and data); a new connection,
        # even under a name used before, gets a new one.
        db.connect_store(
            record.name,
            now,
            event="reauthorized" if renewed else "connected",
            selling_partner_id=record.selling_partner_id,
            region=record.region,
            detail={
                "region": record.region,
                "marketplaces": record.marketplaces,
                "selling_partner_id": record.selling_partner_id,
            },
        )
    return renewed


def delete_connection(
    config_file: ConfigFile,
    secrets: SecretStore,
    db: Database | None,
    name: str,
    now: datetime,
    *,
    purge_data: bool = False,
    data_tables: Sequence[str] = (),
) -> StoreRecord:
    """Remove a store's record and token together; mark its connection deleted in the database.

    With purge_data its history and its rows in `data_tables` (every dataset's) go too.
    """
    config = config_file.load()
    if name not in config.stores:
        raise unknown_store(name, config.stores)
    key = token_key(name)
    previous = secrets.get(key)  # fails early (nothing changed) when the secret store is unusable
    # The database first, and its transaction around the rest: an unreadable or locked database
    # stops the delete before the record or the token is touched, and a failure of either rolls
    # the database back, so `delete` can simply be run again.
    deleting = (
        db.deleting_store(name, now, purge_tables=data_tables if purge_data else None)
        if db is not None
        else contextlib.nullcontext(0)
    )
    with deleting:
        secrets.delete(key)
        try:
            with config_file.edit() as current:
                record = current.stores.pop(name, None)
                if record is None:
                    raise unknown_store(name, current.stores)
        except BaseException:
            if previous is not None:
                secrets.set(key, previous)
            raise
    return record
