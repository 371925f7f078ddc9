"""Saving the SP-API app settings: ids and redirect URI in config, the client secret in the secret store."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from soldscope_cli.db.interface import StoreRegistry
from soldscope_cli.errors import UsageError
from soldscope_cli.fleet.app_credentials import check_app_id, check_client_id, check_redirect_uri
from soldscope_cli.fleet.config import AppSettings, ConfigFile
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, SecretStore


@dataclass(frozen=True)
class AppSetRequest:
    """What `app set` was asked to change."""

    application_id: str | None = None
    client_id: str | None = None
    redirect_uri: str | None = None
    draft: bool | None = None
    client_secret: str | None = None


def check_values(request: AppSetRequest) -> None:
    """UsageError for an id or redirect URI Amazon would refuse."""
    if request.application_id is not None:
        check_app_id(request.application_id)
    if request.client_id is not None:
        check_client_id(request.client_id)
    if request.redirect_uri is not None:
        check_redirect_uri(request.redirect_uri)


_FIELDS = (
    ("application_id", "application id"),
    ("client_id", "client id"),
    ("redirect_uri", "redirect URI"),
    ("draft", "draft"),
)


def _apply(
    settings: AppSettings, request: AppSetRequest, now: datetime, *, date_here: bool = True
) -> list[str]:
    """Change settings in place as the request asks; returns what changed, secret first.

    date_here: the secret's date goes into config.toml (False in team mode: the team keeps it)."""
    changed: list[str] = []
    for attr, label in _FIELDS:
        value = getattr(request, attr)
        if value is not None and getattr(settings, attr) != value:
            setattr(settings, attr, value)
            changed.append(label)
    if request.client_secret is not None:
        if date_here:
            settings.client_secret_set_at = now
        changed.insert(0, "client secret")
    if not settings.application_id or not settings.client_id:
        raise UsageError(
            "the app needs both an application id and an LWA client id",
            hint="run `soldscope app set --app-id amzn1.sp.solution.… "
            "--client-id amzn1.application-oa2-client.…`",
        )
    return changed


def run_app_set(
    config_file: ConfigFile,
    secrets: Callable[[], SecretStore],
    now: datetime,
    request: AppSetRequest,
    team: StoreRegistry | None = None,
) -> list[str]:
    """Validate, then save secret and config together; returns what changed.

    Everything that can be refused is checked before anything is written (the values, both ids
    present once merged with the config, a usable secret store); if the config write then fails,
    the previous secret is put back, so the two never disagree. In team mode (`team`) the
    secret's date is the team's, kept in its database, so every host's rotation reminder sees it.
    """
    check_values(request)
    _apply(copy.deepcopy(config_file.load().app), request, now)  # UsageError before any write
    store = secrets() if request.client_secret is not None else None
    previous = store.get(CLIENT_SECRET_KEY) if store is not None else None
    if store is not None and request.client_secret is not None:
        store.set(CLIENT_SECRET_KEY, request.client_secret)
    dating = team if request.client_secret is not None else None  # the team keeps the date
    previous_date = dating.client_secret_set_at() if dating is not None else None
    try:
        if dating is not None:
            dating.set_client_secret_set_at(now)
        with config_file.edit() as config:
            return _apply(config.app, request, now, date_here=team is None)
    except BaseException:
        if dating is not None:
            with contextlib.suppress(Exception):  # the first error is the one to report
                dating.set_client_secret_set_at(previous_date)
        if store is not None:
            if previous is None:
                store.delete(CLIENT_SECRET_KEY)
            else:
                store.set(CLIENT_SECRET_KEY, previous)
        raise
