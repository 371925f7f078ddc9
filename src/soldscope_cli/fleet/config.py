"""config.toml <-> typed records: strict parsing with line numbers, atomic locked writes."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from soldscope_cli.alert_kinds import DEFAULT_EVENTS
from soldscope_cli.alert_kinds import NAMES as EVENT_NAMES
from soldscope_cli.amazon.marketplaces import BY_CODE, REGIONS, Region, normalize_code, valid_codes
from soldscope_cli.datasets import registry
from soldscope_cli.datasets.spec import Limit
from soldscope_cli.db.model import DEFAULT_RETENTION_DAYS
from soldscope_cli.errors import ConfigError, UsageError, did_you_mean
from soldscope_cli.fleet.files import atomic_write
from soldscope_cli.fleet.secret_settings import OPERATIONS, SecretsSettings, template_problem
from soldscope_cli.fleet.secrets import BACKENDS

STORE_NAME_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
NAMESPACE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{7,63}$")
SECRET_BACKENDS = tuple(BACKENDS)
MIN_RETENTION_DAYS = 1
LOCK_TIMEOUT_S = 30.0

_APP_KEYS = {"application_id", "client_id", "redirect_uri", "draft", "client_secret_set_at"}
_SERVE_KEYS = {"public_url", "agency_name"}
_EXAMPLE_TEMPLATES = {
    "get": "pass show soldscope/{key}",
    "set": "pass insert -m -f soldscope/{key}",
    "delete": "pass rm -f soldscope/{key}",
}
_NOTIFY_KEYS = {"url", "events", "stores"}
# [alerts] expiring_days: a store expiring soon is announced once at each of these days left.
DEFAULT_EXPIRING_DAYS = (30, 7)
_STORE_KEYS = {
    "region",
    "marketplaces",
    "selling_partner_id",
    "authorized_at",
    "region_wide",
    "self_authorized",
    "store_names",
}


@dataclass
class AppSettings:
    """The SP-API application: everything but the client secret, which lives in the secret store."""

    application_id: str | None = None
    client_id: str | None = None
    redirect_uri: str | None = None
    draft: bool = False
    client_secret_set_at: datetime | None = None


@dataclass
class ServeSettings:
    """[serve]: where `soldscope serve` is reached, and whose name its pages show."""

    public_url: str | None = None  # https://host[/prefix]; invitation links live under it
    agency_name: str | None = None


DEFAULT_ROTATION_DAYS_BEFORE = 30


@dataclass
class RotationConfig:
    """[rotation]: the SQS queue Amazon sends new client secrets to, and when to rotate."""

    queue_url: str | None = None
    days_before_set: int | None = None  # rotate this many days before the 180-day expiry

    @property
    def days_before(self) -> int:
        """Days before the secret's expiry at which automatic rotation starts."""
        return self.days_before_set or DEFAULT_ROTATION_DAYS_BEFORE


@dataclass(frozen=True)
class NotifyTarget:
    """[[notify]]: one Apprise URL (a secret) and, optionally, the events and stores it wants."""

    url: str
    events: tuple[str, ...] | None = None  # None: alert_kinds.DEFAULT_EVENTS (every event)
    stores: tuple[str, ...] | None = None  # None: every store

    def wants(self, event: str, store: str | None) -> bool:
        """Whether this target takes an event (app-level events, store None, go to all)."""
        chosen = DEFAULT_EVENTS if self.events is None else self.events
        if event not in chosen:
            return False
        return store is None or self.stores is None or store in self.stores


@dataclass
class StoreRecord:
    """One connection: one seller in one region, authorized at a known time."""

    name: str
    region: Region
    marketplaces: list[str]
    authorized_at: datetime
    selling_partner_id: str | None = None
    region_wide: bool = False  # connected with --region: every marketplace of the region
    self_authorized: bool = False  # token imported from a private app's self-authorization
    # What Amazon answered for the token at connect (getMarketplaceParticipations): the seller's
    # storeName per participating marketplace (country code). The proof of who the seller is that
    # a renewal's token must match; empty for a store connected before it was recorded.
    store_names: dict[str, str] = field(default_factory=dict)


# [stale]: how old a dataset's last successful sync may be before `soldscope data` flags it;
# [watch]: how often `soldscope sync --watch` syncs each dataset of a store (from the start of its
# last sync, whatever the outcome, so a failing store is retried at the same pace, not hammered).
# Each dataset declares its defaults (soldscope_cli.datasets); keys name their unit.
STALE_DEFAULTS: dict[str, int] = registry.stale_defaults()
WATCH_DEFAULTS: dict[str, int] = registry.watch_defaults()


def _limit(limits: Mapping[str, int], key: str, declared: Limit) -> timedelta:
    """A dataset's [stale] or [watch] span: the file's value under its key (`inventory_hours`),
    else the dataset's declared default."""
    return Limit(limits.get(f"{key}_{declared.unit}", declared.amount), declared.unit).span


@dataclass
class Config:
    """The whole config file."""

    app: AppSettings = field(default_factory=AppSettings)
    stores: dict[str, StoreRecord] = field(default_factory=dict)
    secrets_backend: str | None = None
    # This home's prefix for every secret-store key (see fleet/namespaces.py NamespacedSecretStore);
    # None until the home first stores a secret.
    secrets_namespace: str | None = None
    # [secrets] key_command and the command backend's get/set/delete templates.
    secrets_settings: SecretsSettings = field(default_factory=SecretsSettings)
    retention_days_set: int | None = None  # [state] retention_days, when the file sets it
    database_url: str | None = None  # [database] url: a PostgreSQL URL switches on team mode
    stale_set: dict[str, int] = field(default_factory=dict)  # [stale] keys the file sets

    watch_set: dict[str, int] = field(default_factory=dict)  # [watch] keys the file sets
    sync_options: dict[str, int] = field(default_factory=dict)  # [sync]: the datasets' options

    def stale_after(self, dataset: str) -> timedelta:
        """How old a dataset's last successful sync may be before it counts as stale."""
        declared = registry.BY_NAME[dataset]
        return _limit(self.stale_set, declared.key, declared.stale)

    def watch_every(self, dataset: str) -> timedelta:
        """How often `sync --watch` syncs the dataset of each store."""
        declared = registry.BY_NAME[dataset]
        return _limit(self.watch_set, declared.key, declared.watch)

    serve: ServeSettings = field(default_factory=ServeSettings)
    rotation: RotationConfig = field(default_factory=RotationConfig)
    notify: list[NotifyTarget] = field(default_factory=list)  # [[notify]] tables, in file order
    expiring_days_set: tuple[int, ...] | None = None  # [alerts] expiring_days, when set

    @property
    def expiring_days(self) -> tuple[int, ...]:
        """Days left at which an expiring store is announced, largest first."""
        return self.expiring_days_set or DEFAULT_EXPIRING_DAYS

    @property
    def retention_days(self) -> int:
        """How many days of checks, events and sync runs the state database keeps."""
        return self.retention_days_set or DEFAULT_RETENTION_DAYS


# A seller's id (merchant token) as Amazon shows it: "A" then upper-case letters and digits,
# e.g. A2EUQ1WTGCTBG2 (Seller Central → Settings → Account Info → Merchant Token).
SELLER_ID_RE = re.compile(r"A[0-9A-Z]{9,20}")


def validate_seller_id(value: str) -> str:
    """The value itself if it has a seller id's shape, else a UsageError saying where to find it."""
    if not SELLER_ID_RE.fullmatch(value):
        raise UsageError(
            f"selling partner id {value!r} does not look like a seller id "
            "(A followed by 9-20 capital letters and digits, e.g. A2EUQ1WTGCTBG2)",
            hint="copy the Merchant Token from Seller Central → Settings → Account Info, or "
            "leave --selling-partner-id out",
        )
    return value


def validate_store_name(name: str) -> str:
    """The name itself if it is a valid store name, else a UsageError saying the rule."""
    if not STORE_NAME_RE.match(name):
        raise UsageError(
            f"invalid store name {name!r}",
            hint="use 1-64 characters of a-z, 0-9, - and _ (e.g. acme-us)",
        )
    return name


# The SP-API did not exist before 2000, and a year past 2100 is a typo; inside this range the
# 365-day arithmetic can never leave datetime's years 1..9999.
MIN_YEAR = 2000
MAX_YEAR = 2100
TIME_RANGE = f"between {MIN_YEAR} and {MAX_YEAR}"


def public_url_problem(url: str) -> str | None:
    """Why `url` cannot be serve's public URL (an http(s) origin with an optional path), or None."""
    from urllib.parse import urlsplit

    from soldscope_cli.amazon.endpoints import is_loopback_http

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return f"{url!r} is not a URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{url!r} must be an absolute https:// URL"
    # Invitation links and the feed URL are credentials: plain http only on this machine (the
    # simulator, the demo), the same rule as the redirect URI's.
    if parts.scheme == "http" and not is_loopback_http(url):
        return f"{url!r} must be an https:// URL (http only for 127.0.0.1, localhost or [::1])"
    if parts.query or parts.fragment or "#" in url or "?" in url:
        return f"{url!r} must have no query or fragment"
    return None


def database_url_problem(url: object) -> str | None:
    """Why a team database URL is unusable (None when it is a postgresql:// URL with a host or
    socket path); the message never repeats the URL, which may hold a password."""
    from soldscope_cli.db.url import SCHEMES, is_postgres_url, url_problem

    if not isinstance(url, str) or not url.strip():
        return "database url must be a PostgreSQL URL (postgresql://user@host/dbname)"
    if not is_postgres_url(url):
        scheme = url.split("://", 1)[0] if "://" in url else ""
        shown = f" (not {scheme}://)" if scheme and scheme.isascii() and scheme.isalnum() else ""
        return (
            f"database url must start with {' or '.join(s + '://' for s in SCHEMES)}{shown}:"
            " team mode needs PostgreSQL"
        )
    return url_problem(url)


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a Z, to the second (four-digit year: strftime's %Y does not pad)."""
    utc = value.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"


class TimeOutOfRange(ValueError):
    """A well-formed time that datetime cannot hold once moved to UTC."""


def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 / ISO 8601 timestamp; a date alone means midnight UTC; naive means UTC.

    ValueError for anything unusable, also for an offset that moves the time past datetime's range.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise TimeOutOfRange(f"{value!r} is out of range") from None


def in_time_range(value: datetime) -> bool:
    """Whether a stored time is plausible for the SP-API (years 2000..2100, in UTC)."""
    return MIN_YEAR <= value.astimezone(UTC).year <= MAX_YEAR


class _Locator:
    """Finds the line of a table or key in the raw text, so semantic errors can point at it."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, table: str, key: str | None = None, nth: int = 0) -> tuple[int, int] | None:
        """The line of a table (the nth of an array of tables [[name]]) or of a key in it."""
        header = re.compile(
            r"^\s*\[\[?\s*" + r"\s*\.\s*".join(map(_key_re, table.split("."))) + r"\s*\]"
        )
        start = None
        seen = 0
        for i, line in enumerate(self.lines):
            if header.match(line):
                if seen == nth:
                    start = i
                    break
                seen += 1
        if start is None:
            return None
        if key is None:
            return start + 1, 1
        key_re = re.compile(r"^\s*" + _key_re(key) + r"\s*=")
        for i in range(start + 1, len(self.lines)):
            line = self.lines[i]
            if re.match(r"^\s*\[", line):
                break
            match = key_re.match(line)
            if match:
                return i + 1, line.index(line.lstrip()[0]) + 1
        return start + 1, 1


def _key_re(key: str) -> str:
    escaped = re.escape(key)
    return rf"(?:{escaped}|\"{escaped}\"|'{escaped}')"


class _Parser:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.locator = _Locator(text)

    def fail(self, problem: str, table: str, key: str | None = None, nth: int = 0) -> ConfigError:
        where = self.locator.find(table, key, nth)
        place = f"{self.path}" + (f", line {where[0]}, column {where[1]}" if where else "")
        return ConfigError(
            f"{place}: {problem}",
            hint="fix the file by hand (see docs/configuration.md); soldscope will not overwrite it",
        )

    def parse(self, data: dict[str, Any]) -> Config:
        config = Config()
        for key in data:
            if key not in {
                "app",
                "stores",
                "secrets",
                "state",
                "stale",
                "watch",
                "sync",
                "serve",
                "notify",
                "alerts",
                "database",
                "rotation",
            }:
                raise self.fail(f"unknown table or key {key!r}", key)
        app = data.get("app", {})
        if not isinstance(app, dict):
            raise self.fail("[app] must be a table", "app")
        config.app = self.parse_app(app)
        secrets = data.get("secrets", {})
        if not isinstance(secrets, dict):
            raise self.fail("[secrets] must be a table", "secrets")
        for key in secrets:
            if key not in ("backend", "namespace", "key_command", *OPERATIONS):
                raise self.fail(
                    f"unknown key {key!r} in [secrets]; use backend, key_command, get, set, delete",
                    "secrets",
                    key,
                )
        namespace = secrets.get("namespace")
        if namespace is not None and (
            not isinstance(namespace, str) or not NAMESPACE_RE.match(namespace)
        ):
            raise self.fail(
                f"secrets namespace must be 8-64 characters of a-z, 0-9 and -, not {namespace!r} "
                "(soldscope writes it: restore the value it wrote, or remove the line and "
                "reconnect the stores)",
                "secrets",
                "namespace",
            )
        config.secrets_namespace = namespace
        backend = secrets.get("backend")
        if backend is not None and backend not in SECRET_BACKENDS:
            raise self.fail(
                f"secrets backend must be one of {', '.join(SECRET_BACKENDS)}, not {backend!r}",
                "secrets",
                "backend",
            )
        config.secrets_backend = backend
        config.secrets_settings = self.parse_secret_commands(secrets, backend)
        config.retention_days_set = self.parse_state(data.get("state", {}))
        config.database_url = self.parse_database(data.get("database", {}))
        config.stale_set = self.parse_limits(data.get("stale", {}), "stale", STALE_DEFAULTS)
        config.watch_set = self.parse_limits(data.get("watch", {}), "watch", WATCH_DEFAULTS)
        config.sync_options = self.parse_sync_options(data.get("sync", {}))
        config.serve = self.parse_serve(data.get("serve", {}))
        config.rotation = self.parse_rotation(data.get("rotation", {}))
        config.notify = self.parse_notify(data.get("notify", []))
        config.expiring_days_set = self.parse_alerts(data.get("alerts", {}))
        stores = data.get("stores", {})
        if not isinstance(stores, dict):
            raise self.fail("[stores] must hold one table per store", "stores")
        for name, table in stores.items():
            config.stores[name] = self.parse_store(name, table)
        return config

    def parse_secret_commands(
        self, secrets: dict[str, Any], backend: str | None
    ) -> SecretsSettings:
        import shlex

        key_command = secrets.get("key_command")
        if key_command is not None:
            problem = None
            if not isinstance(key_command, str) or not key_command.strip():
                problem = "must be a non-empty command string"
            else:
                try:
                    if not shlex.split(key_command):
                        problem = "must name a command"
                except ValueError as exc:
                    problem = f"cannot be split into words ({exc})"
            if problem:
                raise self.fail(
                    f'key_command {problem}, e.g. key_command = "pass show soldscope/key"',
                    "secrets",
                    "key_command",
                )
        templates: dict[str, str | None] = {}
        for operation in OPERATIONS:
            template = secrets.get(operation)
            if template is not None:
                problem = template_problem(template)
                if problem:
                    raise self.fail(
                        f"{operation} {problem}, e.g. {operation} = "
                        f'"{_EXAMPLE_TEMPLATES[operation]}"',
                        "secrets",
                        operation,
                    )
            templates[operation] = template
        if backend == "command":
            missing = [op for op in OPERATIONS if templates[op] is None]
            if missing:
                raise self.fail(
                    f'backend = "command" needs {", ".join(missing)} in [secrets]: the commands '
                    "that read, store and remove a secret (see docs/configuration.md#secrets)",
                    "secrets",
                    "backend",
                )
        return SecretsSettings(key_command, templates["get"], templates["set"], templates["delete"])

    def parse_state(self, state: Any) -> int | None:
        if not isinstance(state, dict):
            raise self.fail("[state] must be a table", "state")
        for key in state:
            if key != "retention_days":
                raise self.fail(f"unknown key {key!r} in [state]", "state", key)
        days = state.get("retention_days")
        if days is None:
            return None
        if isinstance(days, bool) or not isinstance(days, int) or days < MIN_RETENTION_DAYS:
            raise self.fail(
                f"retention_days must be a whole number of days (at least {MIN_RETENTION_DAYS}),"
                f" not {days!r}",
                "state",
                "retention_days",
            )
        return days

    def parse_database(self, database: Any) -> str | None:
        if not isinstance(database, dict):
            raise self.fail("[database] must be a table", "database")
        for key in database:
            if key != "url":
                raise self.fail(f"unknown key {key!r} in [database]", "database", key)
        url = database.get("url")
        if url is None:
            return None
        problem = database_url_problem(url)
        if problem is not None:
            raise self.fail(problem, "database", "url")
        assert isinstance(url, str)  # by database_url_problem
        return url

    def parse_limits(self, table: Any, name: str, defaults: Mapping[str, int]) -> dict[str, int]:
        """[stale] and [watch]: whole numbers of hours or days per dataset, keys from defaults."""
        if not isinstance(table, dict):
            raise self.fail(f"[{name}] must be a table", name)
        limits: dict[str, int] = {}
        for key, value in table.items():
            if key not in defaults:
                near = did_you_mean(key, defaults)
                also = f" (did you mean {' or '.join(near)}?)" if near else ""
                raise self.fail(
                    f"unknown key {key!r} in [{name}]{also}; use " + ", ".join(defaults),
                    name,
                    key,
                )
            unit = key.rpartition("_")[2]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise self.fail(
                    f"{key} must be a whole number of {unit} (at least 1), not {value!r}",
                    name,
                    key,
                )
            limits[key] = value
        return limits

    def parse_sync_options(self, table: Any) -> dict[str, int]:
        """[sync]: the datasets' options (each dataset declares its own), within their bounds."""
        if not isinstance(table, dict):
            raise self.fail("[sync] must be a table", "sync")
        options: dict[str, int] = {}
        for key, value in table.items():
            option = registry.OPTIONS.get(key)
            if option is None:
                near = did_you_mean(key, registry.OPTIONS)
                also = f" (did you mean {' or '.join(near)}?)" if near else ""
                raise self.fail(
                    f"unknown key {key!r} in [sync]{also}; use " + ", ".join(registry.OPTIONS),
                    "sync",
                    key,
                )
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(f"{key} must be a whole number, not {value!r}", "sync", key)
            try:
                options[key] = option.check(value, key)
            except ValueError as exc:
                raise self.fail(str(exc), "sync", key) from None
        return options

    def parse_notify(self, tables: Any) -> list[NotifyTarget]:
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise self.fail(
                "notify must be an array of tables: [[notify]] with url = ...", "notify"
            )
        targets: list[NotifyTarget] = []
        for nth, table in enumerate(tables):
            for key in table:
                if key not in _NOTIFY_KEYS:
                    raise self.fail(
                        f"unknown key {key!r} in [[notify]]; use url, events, stores",
                        "notify",
                        key,
                        nth,
                    )
            url = table.get("url")
            if not isinstance(url, str) or "://" not in url:
                raise self.fail(
                    '[[notify]] needs url = an Apprise URL, e.g. "json://host/path" '
                    "(see docs/alerts.md)",
                    "notify",
                    "url" if "url" in table else None,
                    nth,
                )
            events = self._names(table, "events", nth, EVENT_NAMES)
            stores = self._names(table, "stores", nth, None)
            targets.append(NotifyTarget(url.strip(), events, stores))
        return targets

    def _names(
        self, table: dict[str, Any], key: str, nth: int, allowed: tuple[str, ...] | None
    ) -> tuple[str, ...] | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(
                f"{key} must be a list of names, e.g. {key} = [...]", "notify", key, nth
            )
        if allowed is not None:
            for item in value:
                if item not in allowed:
                    raise self.fail(
                        f"unknown event {item!r}; use {', '.join(allowed)}", "notify", key, nth
                    )
        return tuple(value)

    def parse_alerts(self, alerts: Any) -> tuple[int, ...] | None:
        if not isinstance(alerts, dict):
            raise self.fail("[alerts] must be a table", "alerts")
        for key in alerts:
            if key != "expiring_days":
                raise self.fail(f"unknown key {key!r} in [alerts]", "alerts", key)
        days = alerts.get("expiring_days")
        if days is None:
            return None
        if (
            not isinstance(days, list)
            or not days
            or not all(
                isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 365 for d in days
            )
        ):
            raise self.fail(
                f"expiring_days must be a list of whole days between 1 and 365, e.g. [30, 7], "
                f"not {days!r}",
                "alerts",
                "expiring_days",
            )
        return tuple(sorted(set(days), reverse=True))

    def parse_rotation(self, rotation: Any) -> RotationConfig:
        if not isinstance(rotation, dict):
            raise self.fail("[rotation] must be a table", "rotation")
        for key in rotation:
            if key not in ("queue_url", "days_before"):
                raise self.fail(
                    f"unknown key {key!r} in [rotation]; use queue_url, days_before",
                    "rotation",
                    key,
                )
        settings = RotationConfig()
        url = rotation.get("queue_url")
        if url is not None:
            if not isinstance(url, str) or not re.match(r"https?://[^/\s]+/\S+$", url):
                raise self.fail(
                    "queue_url must be an SQS queue URL, e.g. "
                    f'"https://sqs.us-east-1.amazonaws.com/123456789012/soldscope-rotation", '
                    f"not {url!r}",
                    "rotation",
                    "queue_url",
                )
            settings.queue_url = url
        days = rotation.get("days_before")
        if days is not None:
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 170:
                raise self.fail(
                    f"days_before must be a whole number of days between 1 and 170, not {days!r}",
                    "rotation",
                    "days_before",
                )
            settings.days_before_set = days
        return settings

    def parse_serve(self, serve: Any) -> ServeSettings:
        if not isinstance(serve, dict):
            raise self.fail("[serve] must be a table", "serve")
        for key in serve:
            if key not in _SERVE_KEYS:
                raise self.fail(f"unknown key {key!r} in [serve]", "serve", key)
        settings = ServeSettings()
        for key in sorted(_SERVE_KEYS):
            value = serve.get(key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise self.fail(f"{key} must be a non-empty string", "serve", key)
            setattr(settings, key, value.strip() if value is not None else None)
        if settings.public_url is not None:
            problem = public_url_problem(settings.public_url)
            if problem:
                raise self.fail(f"public_url {problem}", "serve", "public_url")
        return settings

    def parse_app(self, app: dict[str, Any]) -> AppSettings:
        for key in app:
            if key not in _APP_KEYS:
                raise self.fail(f"unknown key {key!r} in [app]", "app", key)
        settings = AppSettings()
        for key in ("application_id", "client_id", "redirect_uri"):
            value = app.get(key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise self.fail(f"{key} must be a non-empty string", "app", key)
            setattr(settings, key, value)
        draft = app.get("draft", False)
        if not isinstance(draft, bool):
            raise self.fail("draft must be true or false", "app", "draft")
        settings.draft = draft
        if "client_secret_set_at" in app:
            settings.client_secret_set_at = self.parse_datetime(
                app["client_secret_set_at"], "app", "client_secret_set_at"
            )
        return settings

    def parse_store(self, name: str, table: Any) -> StoreRecord:
        where = f"stores.{name}"
        if not STORE_NAME_RE.match(name):
            raise self.fail(
                f"invalid store name {name!r} (use 1-64 characters of a-z, 0-9, - and _)", where
            )
        if not isinstance(table, dict):
            raise self.fail(f"[stores.{name}] must be a table", where)
        for key in table:
            if key not in _STORE_KEYS:
                raise self.fail(f"unknown key {key!r} in [stores.{name}]", where, key)
        region = table.get("region")
        if region not in REGIONS:
            raise self.fail(f"region must be one of na, eu, fe, not {region!r}", where, "region")
        markets = table.get("marketplaces")
        if not isinstance(markets, list) or not markets:
            raise self.fail(
                "marketplaces must be a non-empty list of country codes", where, "marketplaces"
            )
        codes: list[str] = []
        for code in markets:
            canonical = normalize_code(code) if isinstance(code, str) else None
            market = BY_CODE.get(canonical or "")
            if market is None:
                raise self.fail(
                    f"unknown marketplace {code!r} (valid: {valid_codes()})", where, "marketplaces"
                )
            if market.region != region:
                raise self.fail(
                    f"marketplace {market.code} is in region {market.region}, not {region}: "
                    "a connection covers one region",
                    where,
                    "marketplaces",
                )
            if market.code not in codes:
                codes.append(market.code)
        spid = table.get("selling_partner_id")
        if spid is not None and (not isinstance(spid, str) or not spid.strip()):
            raise self.fail(
                "selling_partner_id must be a non-empty string", where, "selling_partner_id"
            )
        if "authorized_at" not in table:
            raise self.fail("authorized_at is missing", where)
        authorized_at = self.parse_datetime(table["authorized_at"], where, "authorized_at")
        flags = {}
        for key in ("region_wide", "self_authorized"):
            value = table.get(key, False)
            if not isinstance(value, bool):
                raise self.fail(f"{key} must be true or false", where, key)
            flags[key] = value
        names = table.get("store_names", {})
        if not isinstance(names, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in names.items()
        ):
            raise self.fail(
                "store_names must be a table of marketplace = store name (written by connect)",
                where,
                "store_names",
            )
        return StoreRecord(
            name=name,
            region=region,
            marketplaces=codes,
            authorized_at=authorized_at,
            selling_partner_id=spid,
            store_names=dict(names),
            **flags,
        )

    def parse_datetime(self, value: Any, table: str, key: str) -> datetime:

        def implausible() -> ConfigError:
            # Built only on failure: locating the line scans the file, once per bad value.
            shown = value.isoformat() if isinstance(value, datetime) else repr(value)
            return self.fail(
                f"{key} {shown} is not a plausible time (the year must be {TIME_RANGE})",
                table,
                key,
            )

        parsed: datetime | None = None
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise self.fail(f"{key} needs a UTC offset, e.g. 2026-01-05T10:00:00Z", table, key)
            try:
                parsed = value.astimezone(UTC)
            except OverflowError:
                raise implausible() from None
        elif isinstance(value, str):
            try:
                parsed = parse_time(value)
            except TimeOutOfRange:
                raise implausible() from None
            except ValueError:
                parsed = None
        if parsed is None:
            shown = value.isoformat() if isinstance(value, datetime) else repr(value)
            raise self.fail(
                f"{key} must be an RFC 3339 time such as 2026-01-05T10:00:00Z, not {shown}",
                table,
                key,
            )
        if not in_time_range(parsed):
            raise self.fail(
                f"{key} {format_time(parsed)} is not a plausible time (the year must be "
                f"{TIME_RANGE})",
                table,
                key,
            )
        return parsed


def parse_config(path: Path, text: str, data: dict[str, Any] | None = None) -> Config:
    """Parse config text (or its already-decoded TOML data); errors name the path, line and column."""
    if data is not None:
        return _Parser(path, text).parse(data)
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ConfigError(
            f"{path}: arrays or tables are nested too deeply to read",
            hint="fix the file by hand (see docs/configuration.md); soldscope will not overwrite it",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, text, str(exc)) from None
    return _Parser(path, text).parse(data)


_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")
# tomllib's wording → what to change; anything else gets the general advice.
_TOML_FIXES = (
    ("at the end of a table declaration", "close the table header with ], e.g. [stores.acme-us]"),
    ("at the end of an array declaration", "close the header with ]], e.g. [[items]]"),
    ("Unclosed array", 'close the list with ], e.g. marketplaces = ["US", "CA"]'),
    ("Unterminated string", "close the quoted value with the quote it started with"),
    ("Illegal character '\\n'", "a quoted value must end on its line: close its quote"),
    ("Invalid value", "give the value: text in quotes, a number, true/false or a [list]"),
    ("Cannot declare", "each [table] may appear once: merge the two into one"),
    ("Cannot overwrite a value", "each key may appear once per table: remove one of them"),
    ("Expected '=' after a key", "write key = value, one per line"),
)


def _syntax_error(path: Path, text: str, message: str) -> ConfigError:
    """tomllib's message as every config error reads: file, line and column, then the fix."""
    found = _TOML_POSITION.search(message)
    problem = _TOML_POSITION.sub("", message) if found else message
    if found and found.group(1):
        line, column = int(found.group(1)), int(found.group(2))
        place = f"{path}, line {line}, column {column}"
    elif found:
        line = text.count("\n") + 1
        place = f"{path}, line {line}, column {len(text) - text.rfind(chr(10))} (end of the file)"
    else:
        place = str(path)
    fix = next((fix for wording, fix in _TOML_FIXES if wording in problem), None)
    return ConfigError(
        f"{place}: not valid TOML: {problem[:1].lower()}{problem[1:]}",
        hint=(f"{fix}; " if fix else "fix that line by hand; ")
        + "see docs/configuration.md (soldscope will not overwrite the file)",
    )


def config_data(config: Config) -> dict[str, Any]:
    """A Config as the plain data of its TOML file (stores sorted by name)."""
    data: dict[str, Any] = {}
    app: dict[str, Any] = {}
    for key in ("application_id", "client_id", "redirect_uri"):
        value = getattr(config.app, key)
        if value is not None:
            app[key] = value
    if app or config.app.draft:
        app["draft"] = config.app.draft
    if config.app.client_secret_set_at is not None:
        app["client_secret_set_at"] = format_time(config.app.client_secret_set_at)
    if app:
        data["app"] = app
    secrets: dict[str, str] = {}
    if config.secrets_backend:
        secrets["backend"] = config.secrets_backend
    if config.secrets_namespace:
        secrets["namespace"] = config.secrets_namespace
    commands = config.secrets_settings
    for key, value in (
        ("key_command", commands.key_command),
        ("get", commands.get),
        ("set", commands.set),
        ("delete", commands.delete),
    ):
        if value is not None:
            secrets[key] = value
    if secrets:
        data["secrets"] = secrets
    if config.retention_days_set is not None:
        data["state"] = {"retention_days": config.retention_days_set}
    if config.database_url is not None:
        data["database"] = {"url": config.database_url}
    if config.stale_set:
        data["stale"] = {k: config.stale_set[k] for k in STALE_DEFAULTS if k in config.stale_set}
    if config.watch_set:
        data["watch"] = {k: config.watch_set[k] for k in WATCH_DEFAULTS if k in config.watch_set}
    if config.sync_options:
        data["sync"] = {
            k: config.sync_options[k] for k in registry.OPTIONS if k in config.sync_options
        }
    serve = {
        key: getattr(config.serve, key)
        for key in sorted(_SERVE_KEYS)
        if getattr(config.serve, key) is not None
    }
    if serve:
        data["serve"] = serve
    rotation: dict[str, Any] = {}
    if config.rotation.queue_url is not None:
        rotation["queue_url"] = config.rotation.queue_url
    if config.rotation.days_before_set is not None:
        rotation["days_before"] = config.rotation.days_before_set
    if rotation:
        data["rotation"] = rotation
    if config.expiring_days_set is not None:
        data["alerts"] = {"expiring_days": list(config.expiring_days_set)}
    if config.notify:
        data["notify"] = [_notify_table(target) for target in config.notify]
    stores: dict[str, Any] = {}
    for name in sorted(config.stores):
        record = config.stores[name]
        table: dict[str, Any] = {"region": record.region, "marketplaces": list(record.marketplaces)}
        if record.selling_partner_id:
            table["selling_partner_id"] = record.selling_partner_id
        table["authorized_at"] = format_time(record.authorized_at)
        if record.region_wide:
            table["region_wide"] = True
        if record.self_authorized:
            table["self_authorized"] = True
        if record.store_names:
            table["store_names"] = dict(sorted(record.store_names.items()))
        stores[name] = table
    if stores:
        data["stores"] = stores
    return data


_HEADER = "# soldscope configuration: see docs/configuration.md. Secrets are never stored here.\n"


def dump_config(config: Config) -> str:
    """Serialise a Config to new TOML text (stores sorted by name)."""
    import tomli_w

    return _HEADER + tomli_w.dumps(config_data(config))


def patch_config_text(text: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    """`text` with only what changed from `before` to `after` rewritten: the user's comments,
    order, blank lines and untouched values stay as written (docs/configuration.md)."""
    # tomlkit keeps a file's layout; it is slower than tomllib, so only writes import it.
    import tomlkit

    document = tomlkit.parse(text)
    _patch(document, before, after)
    return tomlkit.dumps(document)


def _patch_tables(tables: Any, before: list[Any], after: list[Any]) -> None:
    """An array of tables ([[notify]]) changed table by table, so comments stay where they are."""
    import tomlkit

    trailing = _take_trailing(tables[len(tables) - 1])
    kept = _subsequence(before, after)
    if kept is not None:  # tables removed, none changed: the others stay as written
        for index in sorted(set(range(len(before))) - set(kept), reverse=True):
            del tables[index]
    else:
        for index, (old, new) in enumerate(zip(before, after, strict=False)):
            if old != new:
                _patch(tables[index], old, new)
        while len(tables) > len(after):
            del tables[len(tables) - 1]
        if len(after) > len(before):
            tables[len(tables) - 1].add(tomlkit.nl())
        for item in after[len(before) :]:
            tables.append(tomlkit.item(item))
    # What followed the last table's keys (blank lines, comments about the next table) follows
    # whichever table is last now.
    last = tables[len(tables) - 1]
    _take_trailing(last)
    for item in trailing or [tomlkit.nl()]:
        last.add(item)


def _subsequence(before: list[Any], after: list[Any]) -> list[int] | None:
    """The indices of `before` that make up `after` in order, when `after` only drops items."""
    kept: list[int] = []
    index = 0
    for item in after:
        while index < len(before) and before[index] != item:
            index += 1
        if index == len(before):
            return None
        kept.append(index)
        index += 1
    return kept


def _take_trailing(table: Any) -> list[Any]:
    from tomlkit.items import Comment, Whitespace

    body = table.value.body
    taken: list[Any] = []
    while body and body[-1][0] is None:
        item = body.pop()[1]
        if isinstance(item, Comment | Whitespace):  # tomlkit leaves a Null where a key was
            taken.insert(0, item)
    return taken


def _patch(container: Any, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
    import tomlkit
    from tomlkit.items import AoT, Table

    for key in before:
        if key not in after and key in container:
            del container[key]
    for key, new in after.items():
        old = before.get(key)
        if key in before and old == new:
            continue
        current = container.get(key)
        if isinstance(new, dict) and isinstance(old, dict) and isinstance(current, dict):
            _patch(current, old, new)
        elif isinstance(new, list) and new and all(isinstance(item, dict) for item in new):
            if isinstance(current, AoT) and isinstance(old, list):
                _patch_tables(current, old, new)
            else:
                tables = tomlkit.aot()
                for item in new:
                    tables.append(tomlkit.item(item))
                tables[-1].add(tomlkit.nl())  # a blank line before whatever follows
                container[key] = tables
        elif key in container or not isinstance(container, Table):
            container[key] = new
        else:
            # A new key goes after the table's last key, not after the comments that follow it.
            trailing = _take_trailing(container)
            container[key] = new
            for item in trailing:
                container.add(item)


def _notify_table(target: NotifyTarget) -> dict[str, Any]:
    table: dict[str, Any] = {"url": target.url}
    if target.events is not None:
        table["events"] = list(target.events)
    if target.stores is not None:
        table["stores"] = list(target.stores)
    return table


def _cache_key(raw: bytes) -> str:
    import hashlib

    from soldscope_cli import __version__

    return f"{__version__}:{hashlib.sha256(raw).hexdigest()}"


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot cache {type(value).__name__}")


class ConfigFile:
    """The config file on disk: read it, or edit it under a lock and write it back atomically."""

    def __init__(self, path: Path, lock_path: Path) -> None:
        self.path = path
        self.lock_path = lock_path

    @property
    def cache_path(self) -> Path:
        return self.path.with_name(".config.cache.json")

    def load(self) -> Config:
        """The current config; an absent file is an empty config."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Config()
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read: {exc.strerror}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(
                f"{self.path}: not UTF-8 text", hint="fix or remove the file by hand"
            ) from None
        key = _cache_key(raw)
        cached = self._read_cache(key)
        if cached is not None:
            return parse_config(self.path, text, cached)
        config = parse_config(self.path, text)
        self._write_cache(key, tomllib.loads(text))
        return config

    # tomllib is pure Python: with 1,000 stores decoding the TOML is most of `soldscope list`.
    # A JSON copy of the decoded data, keyed by the file's hash and soldscope's version, is 10x
    # faster to read; it holds nothing the config file does not (never a secret).
    def _read_cache(self, key: str) -> dict[str, Any] | None:
        import json

        try:
            cached = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(cached, dict) or cached.get("key") != key:
            return None
        data = cached.get("data")
        return data if isinstance(data, dict) else None

    def _write_cache(self, key: str, data: dict[str, Any]) -> None:
        import json

        try:
            payload = json.dumps({"key": key, "data": data}, default=_json_default)
            atomic_write(self.cache_path, payload)
        except (OSError, TypeError, ValueError, RecursionError):
            pass  # a cache that cannot be written is only slower

    @contextmanager
    def edit(self) -> Iterator[Config]:
        """Yield the config for changes; written back atomically on a clean exit, under a lock."""
        import filelock

        from soldscope_cli.fleet.locks import private_lock

        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = private_lock(self.lock_path, timeout=LOCK_TIMEOUT_S)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise ConfigError(
                f"{self.path}: another soldscope process has held the config lock for "
                f"{LOCK_TIMEOUT_S:.0f} s",
                hint=f"wait for it to finish, or remove {self.lock_path} if no soldscope is running",
            ) from None
        try:
            config = self.load()
            before = config_data(config)
            yield config
            after = config_data(config)
            self._write(config, before, after)
        finally:
            lock.release()

    def _write(self, config: Config, before: dict[str, Any], after: dict[str, Any]) -> None:
        """Write an edited config back, changing only what the edit changed."""
        try:
            text: str | None = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
        if text is None or not text.strip():
            atomic_write(self.path, dump_config(config))
            return
        if after == before:
            return  # nothing changed: the file stays exactly as the user wrote it
        # A patch that would not read back as this config is never written (a layout tomlkit
        # cannot change in place, e.g. dotted keys): the whole file is written afresh instead
        # (its comments are lost, its settings are not).
        try:
            patched = patch_config_text(text, before, after)
            if config_data(parse_config(self.path, patched)) != after:
                patched = dump_config(config)
        except Exception:  # any failure of the patch falls back to a full write
            patched = dump_config(config)
        atomic_write(self.path, patched)


def store_hint(unknown: Iterable[str], known: Iterable[str]) -> str:
    """'did you mean acme-us? run `soldscope list` ...' for mistyped store names."""
    known = list(known)
    near = list(dict.fromkeys(m for name in unknown for m in did_you_mean(name, known)))
    see = "run `soldscope list` to see the configured stores"
    return f"did you mean {' or '.join(near)}? {see}" if near else see


def select_stores(config: Config, names: Iterable[str]) -> list[StoreRecord]:
    """The named stores (all when none named); an unknown name is a usage error, nothing done."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return list(config.stores.values())
    unknown = [n for n in wanted if n not in config.stores]
    if unknown:
        raise UsageError(
            f"no store named {', '.join(repr(n) for n in unknown)}",
            hint=store_hint(unknown, config.stores),
        )
    return [config.stores[n] for n in wanted]
