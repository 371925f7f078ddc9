"""Saving the SP-API app settings: ids and redirect URI in config, the client secret in the secret store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from soldscope_cli.errors import UsageError
from soldscope_cli.fleet.app_credentials import check_app_id, check_client_id, check_redirect_uri
from soldscope_cli.fleet.config import ConfigFile
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


def run_app_set(
    config_file: ConfigFile,
    secrets: Callable[[], SecretStore],
    now: datetime,
    request: AppSetRequest,
) -> list[str]:
    """Validate and save; the secret goes to the secret store, the rest to config. Returns changes."""
    check_values(request)
    changed: list[str] = []
    if request.client_secret is not None:
        # Secret first: if the keyring is unusable, nothing else changes either.
        secrets().set(CLIENT_SECRET_KEY, request.client_secret)
        changed.append("client secret")
    with config_file.edit() as config:
        settings = config.app
        for attr, label in (
            ("application_id", "application id"),
            ("client_id", "client id"),
            ("redirect_uri", "redirect URI"),
            ("draft", "draft"),
        ):
            value = getattr(request, attr)
            if value is not None and getattr(settings, attr) != value:
                setattr(settings, attr, value)
                changed.append(label)
        if request.client_secret is not None:
            settings.client_secret_set_at = now
        if not settings.application_id or not settings.client_id:
            raise UsageError(
                "the app needs both an application id and an LWA client id",
                hint="run `soldscope app set --app-id amzn1.sp.solution.… "
                "--client-id amzn1.application-oa2-client.…`",
            )
    return changed
