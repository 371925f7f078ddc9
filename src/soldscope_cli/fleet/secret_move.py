"""Moving a home's secrets from one backend to another (`soldscope secrets move`).

Every secret the home keeps (each store's refresh token, the client secret, the invitation and
calendar keys) is read from the old backend, written to the new one and read back; only when all
of them came back as written does config.toml name the new backend, and only then are the old
entries removed. A failure before the switch undoes the writes and changes nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from soldscope_cli.errors import SecretStoreError, SoldscopeError, UsageError
from soldscope_cli.fleet.config import Config, ConfigFile
from soldscope_cli.fleet.namespaces import NamespacedSecretStore
from soldscope_cli.fleet.secrets import (
    BACKENDS,
    CALENDAR_KEY,
    CLIENT_SECRET_KEY,
    INVITATION_KEY,
    SecretStore,
    read_many,
    token_key,
    token_store,
)
from soldscope_cli.redact import register_secret

_NAMED = {
    CLIENT_SECRET_KEY: "the client secret",
    INVITATION_KEY: "the invitation key",
    CALENDAR_KEY: "the calendar key",
}


def label(key: str) -> str:
    """What a secret is, for output (never its value)."""
    store = token_store(key)
    return f"refresh token of {store}" if store is not None else _NAMED.get(key, key)


def home_keys(config: Config) -> list[str]:
    """Every secret a home may keep: the stores' tokens first, then the app's secrets."""
    return [token_key(name) for name in sorted(config.stores)] + list(_NAMED)


@dataclass(frozen=True)
class MoveReport:
    """What `secrets move` moved (in a dry run: would move)."""

    source: str
    target: str
    dry_run: bool
    moved: list[str]  # keys, in home_keys order
    left_behind: list[str] = field(default_factory=list)  # old entries that could not be removed


def check_backend(name: str, option: str) -> str:
    """A backend name as given on the command line, or the usage error that lists them."""
    if name not in BACKENDS:
        raise UsageError(
            f"{option}: {name!r} is not a secrets backend", hint=f"use one of {', '.join(BACKENDS)}"
        )
    return name


def move_secrets(
    config_file: ConfigFile,
    source: SecretStore,
    target: SecretStore,
    *,
    source_name: str,
    target_name: str,
    dry_run: bool = False,
) -> MoveReport:
    """Copy, verify, switch config.toml to `target_name`, then remove the old entries."""
    if source_name == target_name:
        raise UsageError(
            f"the secrets are in the {source_name} backend already",
            hint=f"name another backend: one of "
            f"{', '.join(b for b in BACKENDS if b != source_name)}",
        )
    config = config_file.load()
    # An older home's entries have no namespace: they are removed from the backend itself.
    remove_from = (
        source.inner
        if isinstance(source, NamespacedSecretStore) and source.namespace() is None
        else source
    )
    values: dict[str, str] = {}
    missing: list[str] = []
    for key, value in read_many(source, home_keys(config)).items():
        store = token_store(key)
        if value:
            register_secret(value)
            values[key] = value
        elif store is not None:
            missing.append(store)
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise UsageError(
            f"no refresh token for {len(missing)} store{'s' if len(missing) != 1 else ''} "
            f"({shown}) in {source.describe()}; nothing was moved",
            hint="name the backend that holds them with --from (file, keyring, database or "
            "command), or reconnect those stores first",
        )
    report = MoveReport(source_name, target_name, dry_run, list(values))
    if dry_run:
        return report
    _copy_and_verify(target, values, target_name)
    with config_file.edit() as edited:
        edited.secrets_backend = target_name
    left: list[str] = []
    for key in values:
        try:
            remove_from.delete(key)
        except SoldscopeError:
            left.append(key)
    return MoveReport(source_name, target_name, False, list(values), left)


def _copy_and_verify(target: SecretStore, values: dict[str, str], target_name: str) -> None:
    """Every value written to the target and read back; on any failure the target is restored."""
    previous: dict[str, str | None] = {}  # the keys written so far, with what they held
    try:
        held = read_many(target, list(values))
        for key, value in values.items():
            previous[key] = held[key]
            target.set(key, value)
        given = read_many(target, list(values))
        for key, value in values.items():
            if given[key] != value:
                raise SecretStoreError(
                    f"the {target_name} backend did not give back the "
                    f"{label(key).removeprefix('the ')} it was "
                    "given; nothing was moved",
                    hint="run `soldscope doctor` to check that backend, then try again",
                )
    except BaseException:
        _restore(target, previous)
        raise


def _restore(target: SecretStore, previous: dict[str, str | None]) -> None:
    for key, value in previous.items():
        try:
            if value is None:
                target.delete(key)
            else:
                target.set(key, value)
        except SoldscopeError:
            pass  # the first error is the one to report


def moved_summary(keys: Sequence[str]) -> str:
    """'2 refresh tokens, the client secret and the invitation key'."""
    tokens = sum(1 for key in keys if token_store(key) is not None)
    parts = [f"{tokens} refresh token{'s' if tokens != 1 else ''}"] if tokens else []
    parts += [_NAMED[key] for key in keys if key in _NAMED]
    if not parts:
        return "no secrets"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
