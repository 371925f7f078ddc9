"""Small pieces every command adapter shares: the context, store-name completion, selection."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from soldscope_cli.context import AppContext
    from soldscope_cli.notify.sender import Delivery


# For scripts: a mistyped SOLDSCOPE_CONFIG_DIR reads an empty home, and "No stores yet" exits 0.
ExpectStores = Annotated[
    int | None,
    typer.Option(
        "--expect-stores",
        metavar="N",
        min=0,
        help="Exit 2 when fewer than N stores are configured (catches a wrong config directory).",
        show_default=False,
    ),
]


NoNotify = Annotated[
    bool,
    typer.Option(
        "--no-notify",
        help="Send no alerts this run (see docs/alerts.md).",
    ),
]


def say_notify_failures(app: AppContext, failures: list[Delivery]) -> None:
    """One stderr line for the targets an alert could not reach; the exit code stays the same."""
    from soldscope_cli.notify.announce import failure_line

    line = failure_line(failures)
    if line:
        app.err.print(line, markup=False, soft_wrap=True)


def check_expected_stores(app: AppContext, expected: int | None) -> None:
    """UsageError (exit 2) when the config has fewer stores than --expect-stores asks for."""
    if expected is None:
        return
    from soldscope_cli.errors import ConfigError

    count = len(app.config().stores)
    if count < expected:
        noun = "store is" if count == 1 else "stores are"
        raise ConfigError(
            f"{app.paths.config_file}: {count} {noun} configured, fewer than --expect-stores "
            f"{expected}",
            hint="check SOLDSCOPE_CONFIG_DIR (this is the config that was read), or connect the "
            "missing stores",
        )


def get_context(ctx: typer.Context) -> AppContext:
    """The AppContext the root callback (or a test) put on the Typer context."""
    obj: AppContext = ctx.find_root().obj
    return obj


COMPLETION_TIMEOUT_S = 2.0  # a shell waits on this: an unreachable team database offers nothing


def complete_store_names(incomplete: str) -> list[str]:
    """Shell completion for NAME arguments: the store names (no keyring; in team mode the team
    database's, else config.toml's)."""
    from soldscope_cli.errors import SoldscopeError
    from soldscope_cli.fleet.config import ConfigFile
    from soldscope_cli.fleet.paths import resolve_paths

    paths = resolve_paths(os.environ)
    try:
        config = ConfigFile(paths.config_file, paths.config_lock).load()
    except SoldscopeError:
        return []
    url = os.environ.get("SOLDSCOPE_DATABASE_URL") or config.database_url
    if url:
        # Team mode: the fleet is the team database's, read without migrating anything.
        from soldscope_cli.context import open_team_database
        from soldscope_cli.fleet.team import TeamStates

        try:
            config = TeamStates(url, COMPLETION_TIMEOUT_S, open_team_database).fleet(config)
        except Exception:  # a completion must never break the shell: offer nothing
            return []
    return [name for name in sorted(config.stores) if name.startswith(incomplete)]


def complete_choices(*values: str) -> Callable[[str], list[str]]:
    """Shell completion offering fixed values (case-insensitive prefix match)."""

    def complete(incomplete: str) -> list[str]:
        return [v for v in values if v.lower().startswith(incomplete.lower())]

    return complete


def complete_statuses(incomplete: str) -> list[str]:
    """Shell completion for --status."""
    from soldscope_cli.status import Status

    return complete_choices(*(s.value for s in Status))(incomplete)


def complete_regions(incomplete: str) -> list[str]:
    """Shell completion for --region."""
    from soldscope_cli.amazon.marketplaces import REGIONS

    return complete_choices(*REGIONS)(incomplete)


def complete_marketplaces(incomplete: str) -> list[str]:
    """Shell completion for --marketplace: every country code soldscope knows."""
    from soldscope_cli.amazon.marketplaces import MARKETPLACES

    return complete_choices(*(m.code for m in MARKETPLACES))(incomplete)


def complete_datasets(incomplete: str) -> list[str]:
    """Shell completion for sync's --dataset."""
    from soldscope_cli.datasets.registry import NAMES

    return complete_choices(*NAMES)(incomplete)


def parse_date_option(flag: str, value: str | None) -> datetime | None:
    """A DATE (or RFC 3339 time) option as a UTC time; a date alone is midnight UTC."""
    if value is None:
        return None
    from soldscope_cli.errors import UsageError
    from soldscope_cli.fleet.config import in_time_range, parse_time

    try:
        parsed = parse_time(value)
    except ValueError:
        parsed = None
    if parsed is None or not in_time_range(parsed):
        raise UsageError(f"{flag} {value!r} is not a date", hint=f"use e.g. {flag} 2026-01-01")
    return parsed


# The marketplaces of a store to connect or invite: one region's country codes, or a whole region.
MarketplacesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--marketplace",
        metavar="CC",
        autocompletion=complete_marketplaces,
        help="Marketplace country code, e.g. US, UK, DE (repeatable; one region).",
        show_default=False,
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        metavar="na|eu|fe",
        autocompletion=complete_regions,
        help="Instead of --marketplace: every marketplace of the region the seller sells in.",
        show_default=False,
    ),
]


def output_file(flag: str, value: str) -> Path:
    """The file a user named with --output/--textfile, in a directory that must already exist.

    soldscope never creates it: `-o /no/such/dir/x.ics` is a typo far more often than a wish.
    """
    from soldscope_cli.errors import UsageError

    path = Path(value).expanduser()
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise UsageError(
            f"{flag} {value}: the directory {parent} {what}",
            hint=f"create it first (`mkdir -p {parent}`) or name a file in an existing directory",
        )
    return path


# How long automatic rotation waits for Amazon's message before the watch or serve goes on (a
# message that comes later is taken the next time).
AUTO_ROTATION_WAIT_S = 120.0


def rotation_queue_set(app: AppContext) -> bool:
    """Whether a rotation queue is set up ([rotation] queue_url or its variable)."""
    from soldscope_cli.rotation.queue import queue_url

    return queue_url(app.config().rotation.queue_url, app.env) is not None


def rotate_if_due(app: AppContext) -> str | None:
    """Automatic rotation for `sync --watch` and `serve`: take the queue's messages, rotate when
    due, announce the outcome; returns a line to print, or None when there was nothing to do.

    Nothing is loaded without a rotation queue; a failure is told, never raised: the watch and
    the server go on.
    """
    from soldscope_cli.errors import SoldscopeError
    from soldscope_cli.rotation.queue import queue_url

    if queue_url(app.config().rotation.queue_url, app.env) is None:
        return None
    from soldscope_cli.notify.rotation import announce_failed, announce_rotated
    from soldscope_cli.rotation.flow import RotationLost, SecretRefused
    from soldscope_cli.rotation.setup import run_auto

    try:
        outcome = run_auto(app, AUTO_ROTATION_WAIT_S)
    except (RotationLost, SecretRefused) as exc:
        announce_failed(app.notifier(), app.database(), exc, app.clock)
        return f"rotation: {exc.message}"
    except SoldscopeError as exc:
        hint = f" — {exc.hint}" if exc.hint else ""
        return f"rotation: {exc.message}{hint}"
    except Exception as exc:  # the watch and the server outlive a rotation that broke
        from soldscope_cli.redact import redact

        return f"rotation: failed ({type(exc).__name__}: {redact(str(exc))[:200]}); try `soldscope app rotate`"
    if outcome is None or outcome.result != "rotated":
        return None
    announce_rotated(app.notifier(), app.database(), outcome, app.clock)
    return "rotation: the app's client secret was rotated and stored for every host"
