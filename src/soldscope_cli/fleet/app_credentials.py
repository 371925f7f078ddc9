"""The SP-API application's credentials: config and secret store, with environment overrides."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from soldscope_cli.amazon.endpoints import is_loopback_http
from soldscope_cli.errors import ConfigError, UsageError
from soldscope_cli.fleet.config import AppSettings
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, SecretStore

APP_ID_ENV = "SOLDSCOPE_APP_ID"
CLIENT_ID_ENV = "SOLDSCOPE_LWA_CLIENT_ID"
CLIENT_SECRET_ENV = "SOLDSCOPE_LWA_CLIENT_SECRET"
REDIRECT_URI_ENV = "SOLDSCOPE_REDIRECT_URI"

# Amazon makes LWA client secrets expire every 180 days (FACTS §3).
SECRET_LIFETIME = timedelta(days=180)
SECRET_WARNING = timedelta(days=30)


@dataclass
class AppCredentials:
    """Resolved app credentials; the secret is excluded from repr."""

    application_id: str | None
    client_id: str | None
    redirect_uri: str | None
    draft: bool
    client_secret: str | None = field(default=None, repr=False)
    sources: dict[str, str] = field(default_factory=dict)

    def require(self, *, secret: bool = True, redirect: bool = False) -> None:
        """Raise a ConfigError naming `soldscope app set` when something needed is missing."""
        missing = [
            label
            for label, value, needed in (
                ("application id", self.application_id, True),
                ("LWA client id", self.client_id, True),
                ("LWA client secret", self.client_secret, secret),
                ("redirect URI", self.redirect_uri, redirect),
            )
            if needed and not value
        ]
        if missing:
            raise ConfigError(
                f"the SP-API app is not configured: missing {', '.join(missing)}",
                hint="run `soldscope app set --app-id ID --client-id ID --redirect-uri URI` "
                "(see docs/app.md)",
            )


def resolve_app(
    settings: AppSettings,
    env: Mapping[str, str],
    secret_store: Callable[[], SecretStore] | None,
) -> AppCredentials:
    """Environment variables win over the config; the secret comes from env or the secret store."""
    creds = AppCredentials(
        application_id=settings.application_id,
        client_id=settings.client_id,
        redirect_uri=settings.redirect_uri,
        draft=settings.draft,
    )
    for attr, var in (
        ("application_id", APP_ID_ENV),
        ("client_id", CLIENT_ID_ENV),
        ("redirect_uri", REDIRECT_URI_ENV),
    ):
        if env.get(var):
            setattr(creds, attr, env[var])
            creds.sources[attr] = f"env {var}"
        elif getattr(creds, attr):
            creds.sources[attr] = "config"
    if env.get(CLIENT_SECRET_ENV):
        creds.client_secret = env[CLIENT_SECRET_ENV]
        creds.sources["client_secret"] = f"env {CLIENT_SECRET_ENV}"
    elif secret_store is not None:
        store = secret_store()
        creds.client_secret = store.get(CLIENT_SECRET_KEY)
        if creds.client_secret:
            creds.sources["client_secret"] = store.name
    return creds


def check_redirect_uri(uri: str) -> None:
    """Amazon's rules: https, no fragment (MD5110); loopback http is allowed for the simulator."""
    parts = urlsplit(uri)
    if "#" in uri:
        raise UsageError(
            f"redirect URI {uri!r} contains '#', which Amazon refuses (MD5110)",
            hint="register and use a URI without a fragment",
        )
    if not parts.netloc or parts.scheme not in ("https", "http"):
        raise UsageError(
            f"redirect URI {uri!r} is not an absolute https URL",
            hint="use the https URL where the relay page is hosted (see docs/relay.md)",
        )
    if parts.scheme == "http" and not is_loopback_http(uri):
        raise UsageError(
            f"redirect URI {uri!r} is http, and Amazon only accepts https redirect URIs",
            hint="host the relay page over https (see docs/relay.md); "
            "http is accepted only for 127.0.0.1 with the local simulator",
        )


# Solution Provider Portal shows the App ID as amzn1.sp.solution.<uuid>.
APP_ID_RE = re.compile(
    r"amzn1\.sp\.solution\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    re.IGNORECASE,
)


def check_app_id(value: str) -> None:
    """Catch pasted client ids and typos before Amazon answers MD1000."""
    if not APP_ID_RE.fullmatch(value):
        raise UsageError(
            f"application id {value!r} does not look like amzn1.sp.solution.<uuid>",
            hint="copy the App ID from Solution Provider Portal → Develop Apps",
        )


def check_client_id(value: str) -> None:
    """LWA client ids start with amzn1.application-oa2-client."""
    if not value.startswith("amzn1.application-oa2-client."):
        raise UsageError(
            f"LWA client id {value!r} does not look like amzn1.application-oa2-client.<id>",
            hint="copy the client identifier from the app's LWA credentials (View)",
        )


def secret_due(set_at: datetime) -> datetime:
    """When the client secret must be rotated."""
    return set_at + SECRET_LIFETIME


def secret_rotation_state(set_at: datetime | None, now: datetime) -> str:
    """'unknown', 'ok', 'due_soon' (within 30 days) or 'overdue'."""
    if set_at is None:
        return "unknown"
    due = secret_due(set_at)
    if now >= due:
        return "overdue"
    if due - now <= SECRET_WARNING:
        return "due_soon"
    return "ok"
