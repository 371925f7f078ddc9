"""The only code that changes config records and secret-store entries together.

Every change keeps the two consistent: a store never exists without its token, and a token is never
left behind by a store that was removed. When the second write fails the first is undone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from soldscope_cli.db.interface import Database
from soldscope_cli.db.model import TOKEN_WRITTEN
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
    *,
    verify: Callable[[Mapping[str, StoreRecord]], None] | None = None,
) -> bool:
    """Store (or renew) a connection: token first, then the record; returns True if it renewed.

    `verify` sees every store as it is under the lock that writes (config.toml's, or the team
    registry's transaction) and raises to store nothing: checks made earlier, before a slow
    round trip to Amazon, may no longer hold when another connect wrote meanwhile. The token is
    written under that lock too, so a refused connect never touches the winner's token.

    In team mode the record goes to the team database's registry (with its event, in one
    transaction), where every host sees it, instead of config.toml.
    """
    from soldscope_cli.fleet.namespaces import NamespacedSecretStore

    key = token_key(record.name)
    previous: list[str | None] = []  # the token replaced, once it was
    ledgered: list[bool] = []  # once a token_written event is committed
    if isinstance(secrets, NamespacedSecretStore):
        # A home's first secret writes its namespace to config.toml: before the lock below.
        secrets.ensure_namespace()

    def note_token(stores: Mapping[str, StoreRecord]) -> None:
        # A new store's token is named in the ledger, committed, before it is stored: killed
        # before its record is written, the process leaves a token doctor can still find. A
        # renewal needs none: its record names the token.
        if db is None or ledgered or record.name in stores:
            return
        detail = {"key": key, "backend": secrets.name}
        db.log_event(TOKEN_WRITTEN, now, record.name, detail)
        ledgered.append(True)

    registry = db.registry if db is not None else None

    def write_token(stores: Mapping[str, StoreRecord]) -> None:
        if verify is not None:
            verify(stores)
        if record.name not in stores and not ledgered and registry is not None:
            # Deleted on another host since the registry was read: an event written now, inside
            # the registry's transaction, would be undone with it, so nothing is stored.
            raise UsageError(
                f"store {record.name!r} was deleted meanwhile; nothing was stored",
                hint="run the command again",
            )
        note_token(stores)
        previous.append(secrets.get(key))
        secrets.set(key, refresh_token)

    if registry is not None:
        from soldscope_cli.fleet.team import from_registry, to_registry

        # The event must be committed before the registry's transaction opens: so the checks
        # run once on the registry as read here too, and a refused connect leaves no event.
        known = {r.name: from_registry(r) for r in registry.records()}
        if verify is not None:
            verify(known)
        note_token(known)
        try:
            _, renewed = registry.save(
                to_registry(record),
                now,
                detail=_detail(record),
                inside=lambda rows: write_token({r.name: from_registry(r) for r in rows}),
            )
        except BaseException:
            if previous:
                _restore(secrets, key, previous[0])
            raise
        return renewed
    try:
        with config_file.edit() as config:
            write_token(config.stores)
            renewed = record.name in config.stores
            config.stores[record.name] = record
    except BaseException:
        if previous:
            _restore(secrets, key, previous[0])
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
            detail=_detail(record),
        )
    return renewed


def _detail(record: StoreRecord) -> dict[str, object]:
    return {
        "region": record.region,
        "marketplaces": record.marketplaces,
        "selling_partner_id": record.selling_partner_id,
    }


def _restore(secrets: SecretStore, key: str, previous: str | None) -> None:
    if previous is None:
        secrets.delete(key)
    else:
        secrets.set(key, previous)


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
    registry = db.registry if db is not None else None
    if registry is not None:
        from soldscope_cli.fleet.team import from_registry

        stores = {r.name: from_registry(r) for r in registry.records()}
    else:
        stores = config_file.load().stores
    if name not in stores:
        raise unknown_store(name, stores)
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
        if registry is not None:
            # The registry row is the connection's row: deleting_store marks it deleted, in the
            # same transaction, on every host at once.
            return stores[name]
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


def has_leftover_token(secrets: SecretStore, name: str) -> bool:
    """Whether the secret store holds a refresh token under `name` (a name no store has)."""
    return secrets.get(token_key(name)) is not None


def delete_leftover_token(
    secrets: SecretStore, db: Database | None, name: str, now: datetime
) -> bool:
    """Remove the refresh token a name without a store left behind (a connect killed between
    the token and the record); False when there was none.

    The token goes first, then the `deleted` event that settles the ledger's token_written: a
    failure in between leaves an event that still points at nothing, never a token it hides.
    """
    if not has_leftover_token(secrets, name):
        return False
    secrets.delete(token_key(name))
    if db is not None:
        db.log_event("deleted", now, name, {"leftover_token": True})
    return True
