"""`soldscope team import`: a home's stores, history, synced data and secrets into the team database.

Everything is checked before anything changes: the team database answers, no store of the home
is live there already (unless skipped), every refresh token opens in the home's own secret
backend, the team's secret backend takes the key. Then one PostgreSQL transaction copies the
stores and their rows; secrets of the `database` backend are written inside that transaction
(same database), so they commit with the rows or not at all. Any other team backend (keyring,
file, command) is written last, just before the commit, and what was written is undone if the
commit does not happen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from soldscope_cli.db.model import to_db_time
from soldscope_cli.errors import SecretStoreError, UsageError
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, read_many, token_key
from soldscope_cli.fleet.team import to_registry
from soldscope_cli.redact import register_secret

if TYPE_CHECKING:
    import sqlite3

    from soldscope_cli.db.interface import LocalSource, TeamCopier, TeamDatabase
    from soldscope_cli.fleet.config import Config
    from soldscope_cli.fleet.secrets import SecretStore

# What became of the app's client secret.
CLIENT_COPIED = "copied"
CLIENT_PRESENT = "already there"
CLIENT_KEPT = "kept the team's"  # the team has another one: it is not replaced
CLIENT_NONE = "none"


@dataclass(frozen=True)
class ImportSource:
    """The home being copied: config.toml as written, its SQLite file (if any), its secrets."""

    config: Config
    database: LocalSource | None
    secrets: SecretStore
    # When the home's backend was not named (--from-secrets): the command that names the one
    # that probably holds the tokens, for when the default one cannot be read.
    retry: str | None = None


@dataclass(frozen=True)
class ImportTarget:
    """The team database and its shared secret store (built once the database is prepared)."""

    database: TeamDatabase
    secrets: Callable[[], SecretStore]
    secrets_in_database: bool  # the `database` backend: its rows join the import's transaction
    shown: str  # the database URL, password masked
    copier: TeamCopier  # the engine's reads of the home's file and copies into the team's


@dataclass(frozen=True)
class StoreImport:
    """One store: the rows copied per table (would be, in a dry run), and its token."""

    name: str
    rows: dict[str, int]
    secret: bool


@dataclass(frozen=True)
class ImportReport:
    """What `team import` copied (or, in a dry run, would copy)."""

    database: str
    dry_run: bool
    stores: list[StoreImport]
    skipped: list[str]  # live in the team database already (--skip-existing)
    app_events: int
    client_secret: str  # one of CLIENT_*
    pending_invitations: int  # left in the local database
    migrations: list[str] = field(default_factory=list)  # applied (would be, in a dry run)


def _shown(names: Sequence[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _refuse_connected_sellers(config: Config, team: TeamDatabase, todo: list[str]) -> None:
    """A seller the team already has under another name is not connected twice (UsageError)."""
    if not todo:
        return
    held = {
        (r.selling_partner_id, r.region): r.name
        for r in team.peek_registry()
        if r.selling_partner_id
    }
    for name in todo:
        record = config.stores[name]
        seller = record.selling_partner_id
        other = held.get((seller, record.region)) if seller else None
        if other is not None and other != name:
            raise UsageError(
                f"seller {record.selling_partner_id} in region {record.region} of {name} is "
                f"already connected in the team database as {other!r}; nothing was copied",
                hint=f"keep one of them: `soldscope delete {name}` in this home, or "
                f"`soldscope delete {other}` on a team host, then run `soldscope team import` "
                "again",
            )


def import_home(
    source: ImportSource,
    target: ImportTarget,
    *,
    now: datetime,
    dry_run: bool = False,
    skip_existing: bool = False,
) -> ImportReport:
    """Copy the home into the team database in one transaction; nothing changes on any failure."""
    names = sorted(source.config.stores)
    if not names:
        raise UsageError(
            "config.toml lists no stores: there is nothing to import",
            hint="connect stores with `soldscope connect NAME` on a team host instead",
        )
    team = target.database
    pending = team.pending_migrations()  # also: the server answers (exit 74 when not)
    taken = team.peek_live_names(names)
    if taken and not skip_existing:
        raise UsageError(
            f"the team database already has {len(taken)} of these stores ({_shown(taken)}); "
            "nothing was copied",
            hint="run `soldscope team import --skip-existing` to import the others (the team's "
            "stores of those names stay as they are)",
        )
    todo = [n for n in names if n not in taken]
    _refuse_connected_sellers(source.config, team, todo)
    try:
        tokens = _read_tokens(source.secrets, todo)
        client_secret = source.secrets.get(CLIENT_SECRET_KEY) if todo else None
    except SecretStoreError as exc:
        if source.retry is None:
            raise
        # The backend's own fix (e.g. SOLDSCOPE_SECRETS=file) names the team's backend here.
        raise SecretStoreError(
            f"this home's own secret backend cannot be read: {exc.message}",
            hint=f"name the backend that holds this home's tokens: `{source.retry}`",
        ) from None
    if client_secret:
        register_secret(client_secret)

    with ExitStack() as stack:
        local: sqlite3.Connection | None = None
        if source.database is not None:
            local = stack.enter_context(target.copier.read_snapshot(source.database.connection()))
        if dry_run:
            report = _plan(target, local, todo, taken, client_secret, pending, now)
        else:
            applied = team.migrate() if pending else []
            destination = target.secrets()
            team_client = destination.get(CLIENT_SECRET_KEY)  # also checks the key, the backend
            client = _client_outcome(client_secret, team_client)
            secrets = {token_key(n): tokens[n] for n in todo}
            if client == CLIENT_COPIED:
                assert client_secret is not None
                secrets[CLIENT_SECRET_KEY] = client_secret
            stores, app_events = _copy(source, target, local, todo, destination, secrets, now)
            set_at = source.config.app.client_secret_set_at
            if client == CLIENT_COPIED and set_at is not None:
                # The secret's date goes with it, for every host's rotation reminder.
                team.set_client_secret_set_at(set_at)
            report = ImportReport(
                target.shown,
                False,
                stores,
                taken,
                app_events,
                client,
                _invitations(target.copier, local, now),
                applied,
            )
    return report


def import_retry(
    env: Mapping[str, str], configured: str | None, skip_existing: bool, dry_run: bool
) -> str:
    """The `team import` to run when the home's default backend cannot be read.

    A home kept in a file usually ran with SOLDSCOPE_SECRETS=file, which in team mode names the
    team's backend: the home's own is named with --from-secrets instead.
    """
    from soldscope_cli.fleet.secrets import BACKENDS, SECRETS_ENV

    tried = configured or "keyring"
    chosen = (env.get(SECRETS_ENV) or "").strip().lower()
    guess = chosen if chosen in BACKENDS and chosen != tried else "file"
    if guess == tried:
        guess = "keyring"
    flags = (" --skip-existing" if skip_existing else "") + (" --dry-run" if dry_run else "")
    return f"soldscope team import --from-secrets {guess}{flags}"


def _read_tokens(store: SecretStore, names: Sequence[str]) -> dict[str, str]:
    tokens: dict[str, str] = {}
    missing: list[str] = []
    found = read_many(store, [token_key(name) for name in names])  # in batches where it can
    for name in names:
        value = found[token_key(name)]
        if value:
            register_secret(value)
            tokens[name] = value
        else:
            missing.append(name)
    if missing:
        raise UsageError(
            f"no refresh token for {len(missing)} store{'s' if len(missing) != 1 else ''} "
            f"({_shown(missing)}) in {store.describe()}; nothing was copied",
            hint="name the backend that holds this home's tokens with --from-secrets (file, "
            "keyring, database or command), or reconnect those stores with team mode off",
        )
    return tokens


def _client_outcome(ours: str | None, theirs: str | None) -> str:
    if not ours:
        return CLIENT_NONE
    if theirs is None:
        return CLIENT_COPIED
    return CLIENT_PRESENT if theirs == ours else CLIENT_KEPT


def _invitations(copier: TeamCopier, local: sqlite3.Connection | None, now: datetime) -> int:
    if local is None:
        return 0
    return copier.pending_invitations(local, to_db_time(now))


def _plan(
    target: ImportTarget,
    local: sqlite3.Connection | None,
    todo: Sequence[str],
    taken: list[str],
    client_secret: str | None,
    pending: list[str],
    now: datetime,
) -> ImportReport:
    """The dry run: counts from the local database; the team's secrets are read, not written."""
    copier = target.copier
    found = copier.live_connections(local, todo) if local is not None else {}
    stores = [
        StoreImport(
            name,
            copier.count_rows(local, found[name].id)
            if local is not None and name in found
            else dict.fromkeys(copier.TABLES, 0),
            True,
        )
        for name in todo
    ]
    # An unprepared database has no namespace yet, so no secret of the team can be there.
    team_client = None if pending else target.secrets().get(CLIENT_SECRET_KEY)
    return ImportReport(
        target.shown,
        True,
        stores,
        taken,
        copier.count_app_events(local) if local is not None and todo else 0,
        _client_outcome(client_secret, team_client),
        _invitations(copier, local, now),
        pending,
    )


def _copy(
    source: ImportSource,
    target: ImportTarget,
    local: sqlite3.Connection | None,
    todo: Sequence[str],
    destination: SecretStore,
    secrets: dict[str, str],
    now: datetime,
) -> tuple[list[StoreImport], int]:
    copier = target.copier
    found = copier.live_connections(local, todo) if local is not None else {}
    undo: list[tuple[str, str | None]] = []  # (key, value before) of an outside backend
    stores: list[StoreImport] = []
    app_events = 0
    try:
        with target.database.transaction() as tx:
            raced = copier.live_names(tx, todo)
            if raced:
                raise UsageError(
                    f"{_shown(raced)} joined the team database while importing; nothing was copied",
                    hint="run `soldscope team import --skip-existing` to import the others",
                )
            for name in todo:
                record = to_registry(source.config.stores[name])
                mine = found.get(name)
                team_id = copier.add_store(
                    tx, record, mine.created_at if mine else record.authorized_at
                )
                rows = (
                    copier.copy_store(tx, local, mine.id, team_id, name)
                    if local is not None and mine is not None
                    else dict.fromkeys(copier.TABLES, 0)
                )
                copier.log_imported(tx, name, team_id, now)
                stores.append(StoreImport(name, rows, True))
            if local is not None and todo:
                app_events = copier.copy_app_events(tx, local)
            # The `database` backend's writes join this transaction (same connection); any
            # other backend is written last, so a failure before here leaves it untouched.
            for key, value in secrets.items():
                if not target.secrets_in_database:
                    undo.append((key, destination.get(key)))
                destination.set(key, value)
    except BaseException:
        for key, before in reversed(undo):
            if before is None:
                destination.delete(key)
            else:
                destination.set(key, before)
        raise
    return stores, app_events
