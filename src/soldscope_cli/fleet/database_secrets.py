"""The `database` secret backend: values sealed with AES-GCM in the state database's secrets table.

The key is read once per process, on first use, and checked against the table's key-check row
before anything is read or written: no key, a malformed key or the wrong key is a setup error
(exit 2) with nothing written. A refresh token is bound to the id of its connection: when
connect stores the token of a new connection, its `stores` row is created then (connect's own
write adopts it), so the binding holds from the first write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from soldscope_cli.errors import SecretStoreError, UsageError
from soldscope_cli.fleet.sealed import KEY_CHECK_NAME, KEY_ENV, KEY_FIX, Sealer, SecretsKey
from soldscope_cli.redact import register_secret

if TYPE_CHECKING:
    from soldscope_cli.db.interface import SecretRows
    from soldscope_cli.db.model import SealedSecret

WRONG_KEY_FIX = (
    f"use the key these secrets were stored with ({KEY_ENV} or [secrets] key_command); after "
    "`soldscope team rotate-key`, every host needs the new key"
)


def wrong_key(key: SecretsKey) -> SecretStoreError:
    """The error of a key the database's secrets were not sealed under."""
    return SecretStoreError(
        f"the secrets key from {key.source} (id {key.key_id}) is not the key of the secrets in "
        "the database; nothing was read or written",
        WRONG_KEY_FIX,
    )


class DatabaseSecretStore:
    """Secrets sealed in the state database (shared by every host that uses the database)."""

    name = "database"
    insecure = False

    def __init__(
        self,
        rows: Callable[[], SecretRows],
        key: Callable[[], SecretsKey],
        where: str,
        token_store: Callable[[str], str | None],
    ) -> None:
        """token_store: the store whose refresh token a key names, None for other secrets."""
        self._rows_factory = rows
        self._token_store = token_store
        self._key_factory = key
        self._where = where
        self._lock = threading.Lock()
        self._sealer: Sealer | None = None
        self._check: SealedSecret | None = None  # the verified key-check row (or one to insert)

    @property
    def rows(self) -> SecretRows:
        return self._rows_factory()

    def sealer(self) -> Sealer:
        """The key, read and checked against the database on first use."""
        with self._lock:
            if self._sealer is None:
                sealer = Sealer(self._key_factory())
                self._check = self._verified_check(sealer)
                self._sealer = sealer
            return self._sealer

    def _verified_check(self, sealer: Sealer) -> SealedSecret:
        found = self.rows.get(KEY_CHECK_NAME)
        if found is None:
            if any(row.name != KEY_CHECK_NAME for row in self.rows.all()):
                raise SecretStoreError(
                    "the database holds secrets but no key check: the secrets table was changed "
                    "by hand; nothing was read or written",
                    hint="restore the state database from a backup",
                )
            # First use: the check is written with the first secret, in its transaction.
            return sealer.key_check()
        if not sealer.opens_check(found):
            raise wrong_key(sealer.key)
        return found

    def _reverify(self, sealer: Sealer) -> None:
        """After a refused write or a row that did not open: was the key replaced meanwhile?"""
        found = self.rows.get(KEY_CHECK_NAME)
        if found is not None and not sealer.opens_check(found):
            raise wrong_key(sealer.key)
        with self._lock:
            self._check = found or sealer.key_check()

    def get(self, key: str) -> str | None:
        sealer = self.sealer()
        row = self.rows.get(key)
        if row is None:
            return None
        value = sealer.open(row)
        if value is None:
            self._reverify(sealer)
            raise SecretStoreError(
                f"the stored secret {key!r} does not open under the secrets key: the row was "
                "changed or copied from another row; nothing was read",
                hint="store it again (`soldscope connect NAME` for a refresh token, `soldscope "
                "app set --client-secret-stdin` for the client secret), or restore the database",
            )
        store = self._token_store(key)
        if store is not None and row.store_id is not None:
            live = self.rows.live_store_id(store)
            if live is not None and live != row.store_id:
                raise SecretStoreError(
                    f"the stored refresh token of {store!r} was sealed for connection "
                    f"{row.store_id}, not for the live connection {live}; it was not used",
                    hint=f"connect the store again: soldscope connect {store}",
                )
        text = value.decode("utf-8")
        register_secret(text)
        return text

    def set(self, key: str, value: str) -> None:
        sealer = self.sealer()
        store = self._token_store(key)
        store_id = self.rows.store_id(store) if store is not None else None
        row = sealer.seal(key, value.encode("utf-8"), store_id)
        for _ in range(2):
            assert self._check is not None
            if self.rows.put(row, check=self._check):
                return
            # Another process wrote the first key check, or rotated the key: check ours again.
            self._reverify(sealer)
        raise SecretStoreError(
            "the secrets key check keeps changing while writing; nothing was written",
            hint="run the command again once `soldscope team rotate-key` has finished",
        )

    def delete(self, key: str) -> None:
        self.sealer()  # a wrong key changes nothing, deletions included
        self.rows.delete(key)

    def describe(self) -> str:
        return f"the state database {self._where}, sealed with AES-GCM"

    def inspect(self, *, read_rows: bool = True) -> str:
        """The key's state for doctor, without a secret: present, matching, how many secrets.

        read_rows=False only reads the key (no state database to compare it with yet).
        """
        if not read_rows:
            key = self._key_factory()
            return f"key {key.key_id} from {key.source}; no state database yet, nothing stored"
        sealer = self.sealer()
        count = sum(1 for row in self.rows.all() if row.name != KEY_CHECK_NAME)
        key = sealer.key
        if self.rows.get(KEY_CHECK_NAME) is None:
            return f"key {key.key_id} from {key.source}; no secret stored yet"
        return (
            f"key {key.key_id} from {key.source} matches the database's key check; "
            f"{count} secret{'' if count == 1 else 's'} stored"
        )


@dataclass(frozen=True)
class Rotation:
    """What `team rotate-key` did."""

    reencrypted: int
    old_key_id: str
    new_key_id: str


def rotate_key(rows: SecretRows, old: SecretsKey, new: SecretsKey) -> Rotation:
    """Re-seal every secret under `new`, in one transaction; nothing changes on any failure."""
    if new.material == old.material:
        raise UsageError(
            f"the new key is the key in use (id {old.key_id}): nothing to rotate",
            hint="make a new key with `soldscope team new-key`",
        )
    before = rows.all()
    if not before:
        raise UsageError(
            "the database holds no secrets yet: nothing to rotate",
            hint=f"set {KEY_ENV} to the new key; the first secret stored records it",
        )
    opener, sealer = Sealer(old), Sealer(new)
    check = next((row for row in before if row.name == KEY_CHECK_NAME), None)
    if check is not None and not opener.opens_check(check):
        raise wrong_key(old)
    after = [sealer.key_check()]
    for row in before:
        if row.name == KEY_CHECK_NAME:
            continue
        value = opener.open(row)
        if value is None:
            raise SecretStoreError(
                f"the stored secret {row.name!r} does not open under the current key; no secret "
                "was re-encrypted",
                hint="store it again or delete its store, then rotate",
            )
        after.append(sealer.seal(row.name, value, row.store_id))
    if not rows.replace_all(before, after):
        raise SecretStoreError(
            "a secret was written while rotating; no secret was re-encrypted",
            hint="run `soldscope team rotate-key` again",
        )
    return Rotation(len(after) - 1, old.key_id, new.key_id)


def open_database_store(
    env: Mapping[str, str],
    key_command: str | None,
    rows: Callable[[], SecretRows] | None,
    where: str,
    token_store: Callable[[str], str | None],
) -> DatabaseSecretStore:
    """The database backend for the environment and config; the key is read on first use."""
    from soldscope_cli.fleet.sealed import load_key

    if rows is None:
        raise SecretStoreError(
            "the database secret backend needs the state database, which this command does not "
            "open",
            hint=KEY_FIX,
        )
    return DatabaseSecretStore(rows, lambda: load_key(env, key_command), where, token_store)


def rotate_configured_key(
    env: Mapping[str, str],
    key_command: str | None,
    rows: SecretRows,
    *,
    new_key_command: str | None,
) -> Rotation:
    """`team rotate-key`: the current key as every command reads it, the new one from
    SOLDSCOPE_NEW_SECRETS_KEY or `new_key_command`; both are checked before anything changes."""
    from soldscope_cli.fleet.sealed import NEW_KEY_ENV, load_key, parse_key, run_key_command

    new_text = env.get(NEW_KEY_ENV)
    if new_key_command:
        if new_text:
            raise UsageError(
                f"both {NEW_KEY_ENV} and --new-key-command give a new key",
                hint="use one of them",
            )
        source = "--new-key-command"
        new = parse_key(run_key_command(new_key_command, source, env=env), source)
    elif new_text and new_text.strip():
        new = parse_key(new_text, NEW_KEY_ENV)
    else:
        raise UsageError(
            f"no new key: set {NEW_KEY_ENV} to it or pass --new-key-command",
            hint="make one with `soldscope team new-key` and keep it in your password manager "
            "first (e.g. `soldscope team new-key | pass insert -m soldscope/key-next`)",
        )
    old = load_key(env, key_command)
    return rotate_key(rows, old, new)
