"""`soldscope validate`: check every connection live against Amazon and record the outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from soldscope_cli.checks import DEFAULT_CONCURRENCY
from soldscope_cli.commands.common import (
    ExpectStores,
    NoNotify,
    check_expected_stores,
    complete_store_names,
    get_context,
    rotation_queue_set,
    say_notify_failures,
)
from soldscope_cli.context import AppContext
from soldscope_cli.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from soldscope_cli.checks.validation import ValidateResult

MAX_CONCURRENCY = 64


def exit_code(result: ValidateResult) -> ExitCode:
    """1 when a store is error/expired or the app was rejected, 3 when incomplete, else 0."""
    if result.app_error is not None or any(row.status.unhealthy for row in result.rows):
        return ExitCode.UNHEALTHY
    if result.incomplete:
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def exit_code_after_renewal(result: ValidateResult, renewed: list[str], failed: bool) -> int:
    """A failed renewal is exit 1; otherwise the stores not renewed decide, as without renewal."""
    from soldscope_cli.checks.validation import ValidateResult

    if failed:
        return int(ExitCode.UNHEALTHY)
    rest = ValidateResult(
        rows=[row for row in result.rows if row.name not in renewed],
        checks={name: c for name, c in result.checks.items() if name not in renewed},
        app_error=result.app_error,
    )
    return int(exit_code(rest))


def validate_command(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME]...",
            help="Stores to check (default: all).",
            autocompletion=complete_store_names,
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print a JSON array (the `list` shape plus "check").')
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            metavar="N",
            min=1,
            max=MAX_CONCURRENCY,
            help="Stores checked at the same time.",
        ),
    ] = DEFAULT_CONCURRENCY,
    reauthorize: Annotated[
        bool,
        typer.Option(
            "--reauthorize",
            help="Then renew every store in error, expired or expiring soon, one consent after "
            "another (needs a terminal).",
        ),
    ] = False,
    expect_stores: ExpectStores = None,
    no_notify: NoNotify = False,
) -> None:
    """Check each connection live: refresh its token and list its marketplaces at Amazon.

    Records every outcome; a check that cannot complete (Amazon down, throttled, timeouts) never changes a status. Exit 0 when all are active or expiring soon, 1 when one is in error or expired or the app's credentials were rejected, 3 when some check could not complete and none is known bad.

    With --reauthorize, every checked store in error, expired or expiring soon is then renewed through Seller Central's consent, one store after another (a terminal is needed: each consent opens a browser and waits). Plain `validate` never prompts or opens a browser: on a terminal it prints the --reauthorize command for the stores it found.

    Status changes are sent to the alert targets once each (docs/alerts.md); --no-notify sends none.

    Examples:
      soldscope validate
      soldscope validate acme-us acme-eu
      soldscope validate --reauthorize
      soldscope validate --json | jq '.[] | select(.status == "error") | .name'
    """
    from soldscope_cli.checks.validation import run_validate
    from soldscope_cli.output.validate import progress_bar, render_validation

    app = get_context(ctx)
    check_expected_stores(app, expect_stores)
    if reauthorize and not app.can_prompt:
        raise UsageError(
            "--reauthorize needs a terminal: each renewal opens Seller Central's consent in a "
            "browser and waits for it",
            hint="renew one store at a time with `soldscope connect NAME`, which prints the link "
            "and waits also without a terminal",
        )
    with progress_bar(app) as progress:
        result = run_validate(app, names or [], concurrency=concurrency, progress=progress)
    render_validation(app, result, as_json)
    if not no_notify:
        _notify(app, result)
    code = int(exit_code(result))
    due = _renewable(result)
    if due and result.app_error is not None:
        if reauthorize:
            app.err.print("Not renewing: the app's own credentials must be fixed first.")
    elif due and reauthorize:
        failed = _renew(app, due)
        code = exit_code_after_renewal(result, due, bool(failed))
    elif due and app.can_prompt and not as_json:
        # Never a prompt: a cron job under `script` or a CI runner with a pty has a terminal
        # too, and nobody there would ever answer it. Renewing is asked for with --reauthorize.
        stores = f"{len(due)} store{'s' if len(due) > 1 else ''}"
        app.err.print(
            f"{stores} can be renewed now, one consent after another: "
            f"soldscope validate --reauthorize {' '.join(due)}",
            markup=False,
            highlight=False,
            soft_wrap=True,  # the command stays whole on its line, to copy
        )
    if code:
        raise typer.Exit(code)


def _notify(app: AppContext, result: ValidateResult) -> None:
    from soldscope_cli.notify.announce import Observed, announce_observed

    observed = Observed(
        result.rows,
        app_error=result.app_error,
        app_checked=bool(result.rows),
        rotation_queue=rotation_queue_set(app),
    )
    failures = announce_observed(app.notifier(), app.database(), app.config(), observed, app.clock)
    say_notify_failures(app, failures)


def _renewable(result: ValidateResult) -> list[str]:
    from soldscope_cli.onboarding.consent_flow import renewable

    return renewable(result.rows)


def _renew(app: AppContext, names: list[str]) -> list[str]:
    """Renew the stores one consent after another, on this terminal; returns those that failed."""
    from soldscope_cli.onboarding.renewal import renew_stores
    from soldscope_cli.output.connect import TerminalConsentUi, render_connected
    from soldscope_cli.output.errors import render_error

    return renew_stores(
        app,
        names,
        make_ui=lambda: TerminalConsentUi(app),
        say=lambda text: app.err.print(text, markup=False),
        renewed=lambda result: render_connected(app, result),
        failed=lambda exc: render_error(app, exc),
    )
