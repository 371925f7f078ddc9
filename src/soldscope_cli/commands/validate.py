"""`soldscope validate`: check every connection live against Amazon and record the outcome."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from soldscope_cli.commands.common import complete_store_names, get_context, select_stores
from soldscope_cli.context import AppContext
from soldscope_cli.db.database import CHECK_OK
from soldscope_cli.errors import ExitCode, UsageError
from soldscope_cli.fleet.listing import summary

if TYPE_CHECKING:
    from soldscope_cli.checks.live import (
        HealthClients,
        ProgressCallback,
        StoreCheck,
        ValidateResult,
    )

# Equal to health.DEFAULT_CONCURRENCY (a test pins it); not imported from there because the health
# module pulls in httpx, which commands that never go online (`list`) must not pay for.
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64


def run_validate(
    ctx: AppContext,
    names: list[str],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: ProgressCallback | None = None,
) -> ValidateResult:
    """Check the named stores (all by default) and return rows plus each store's check."""
    from soldscope_cli.checks.live import validate_stores

    records = select_stores(ctx.config(), names)

    def make_clients() -> HealthClients:

        return ctx.amazon_clients()

    return validate_stores(
        records,
        secrets=ctx.secret_store(),
        make_clients=make_clients,
        db=ctx.database(),
        clock=ctx.clock,
        concurrency=concurrency,
        progress=progress,
    )


@contextmanager
def _progress(app: AppContext) -> Iterator[ProgressCallback | None]:
    """A Rich progress bar on stderr when a person watches it; nothing when piped."""
    if not app.stderr_tty:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=app.err,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def update(done: int, total: int, check: StoreCheck) -> None:
            bar.update(task, completed=done, total=total, description=check.store)

        yield update


def _details(result: ValidateResult) -> list[str]:
    """One line per store whose check found something, with Amazon's request id."""
    lines = []
    for row in result.rows:
        check = result.checks.get(row.name)
        if check is None or (check.outcome == CHECK_OK and not check.added):
            continue
        line = f"{row.name}: {check.outcome}: {check.reason}"
        if check.request_id:
            line += f" [request id {check.request_id}]"
        lines.append(line)
    return lines


def render(app: AppContext, result: ValidateResult, as_json: bool) -> None:
    """The list table (or its JSON) plus each store's check."""
    from soldscope_cli.checks.live import APP_REJECTED_MESSAGE

    if as_json:
        from soldscope_cli.output.terminal import print_json

        data = []
        for row in result.rows:
            item = row.to_json()
            check = result.checks.get(row.name)
            item["check"] = None if check is None else check.to_json()
            data.append(item)
        print_json(app.stdout, data)
    elif not result.rows:
        app.err.print(
            "No stores yet. Connect one with `soldscope connect NAME --marketplace US`.",
            markup=False,
        )
    else:
        from soldscope_cli.output.terminal import render_store_table

        render_store_table(app.out, result.rows, app.policy)
        app.out.print(summary(result.rows), markup=False)
        for line in _details(result):
            app.out.print(line, markup=False)
    if result.app_error is not None:
        # Once, whatever the number of stores: it is the app's problem, not theirs.
        app.err.print(f"error: {APP_REJECTED_MESSAGE}", markup=False)
    elif result.incomplete:
        app.err.print(
            f"{len(result.incomplete)} check(s) could not complete; their status is unchanged "
            "— run `soldscope validate` again later",
            markup=False,
        )


def confirm(app: AppContext, question: str) -> bool:
    """A [y/N] question on stderr, answered on stdin; anything but yes (or end of input) is no."""
    app.err.print(f"{question} [y/N] ", markup=False, end="")
    answer = app.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def renew_stores(app: AppContext, names: list[str]) -> list[str]:
    """Renew each store through its own consent, one after another; returns those that failed."""
    from soldscope_cli.cli import render_error
    from soldscope_cli.commands.connect import TerminalConsentUi, render_connected
    from soldscope_cli.errors import IncompleteError, UnhealthyError
    from soldscope_cli.onboarding.consent_flow import ConsentRequest, SellerConflict, run_consent

    failed: list[str] = []
    for number, name in enumerate(names, 1):
        app.err.print(f"Renewing {name} ({number} of {len(names)})", markup=False)
        ui = TerminalConsentUi(app)
        try:
            result = run_consent(app, ConsentRequest(name=name, open_browser=True), ui)
        except (UnhealthyError, IncompleteError, SellerConflict) as exc:
            # This store's consent failed; the next store's client may be ready. Anything else
            # (configuration, secret store, a busy port) would fail every renewal: it stops.
            ui.close()
            render_error(app, exc)
            failed.append(name)
            continue
        finally:
            ui.close()
        render_connected(app, result)
    done = len(names) - len(failed)
    tail = f"; not renewed: {', '.join(failed)}" if failed else ""
    app.err.print(f"Renewed {done} of {len(names)} stores{tail}.", markup=False)
    return failed


def exit_code_after_renewal(result: ValidateResult, renewed: list[str], failed: bool) -> int:
    """A failed renewal is exit 1; otherwise the stores not renewed decide, as without renewal."""
    from soldscope_cli.checks.live import ValidateResult

    if failed:
        return int(ExitCode.UNHEALTHY)
    rest = ValidateResult(
        rows=[row for row in result.rows if row.name not in renewed],
        checks={name: c for name, c in result.checks.items() if name not in renewed},
        app_error=result.app_error,
    )
    return int(rest.exit_code)


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
) -> None:
    """Check each connection live: refresh its token and list its marketplaces at Amazon.

    Records every outcome; a check that cannot complete (Amazon down, throttled, timeouts) never
    changes a status. Exit 0 when all are active or expiring soon, 1 when one is in error or
    expired or the app's credentials were rejected, 3 when some check could not complete and none
    is known bad.

    With --reauthorize, every checked store in error, expired or expiring soon is then renewed
    through Seller Central's consent, one store after another (a terminal is needed: each
    consent opens a browser and waits). In a terminal, plain `validate` offers the same when it
    finds such stores; without a terminal it never prompts or opens a browser.

    Examples:
      soldscope validate
      soldscope validate acme-us acme-eu
      soldscope validate --reauthorize
      soldscope validate --json | jq '.[] | select(.status == "error") | .name'
    """
    app = get_context(ctx)
    if reauthorize and not app.can_prompt:
        raise UsageError(
            "--reauthorize needs a terminal: each renewal opens Seller Central's consent in a "
            "browser and waits for it",
            hint="renew one store at a time with `soldscope connect NAME`, which prints the link "
            "and waits also without a terminal",
        )
    with _progress(app) as progress:
        result = run_validate(app, names or [], concurrency=concurrency, progress=progress)
    render(app, result, as_json)
    code = int(result.exit_code)
    due = _renewable(result)
    if due and result.app_error is not None:
        if reauthorize:
            app.err.print("Not renewing: the app's own credentials must be fixed first.")
    elif due and (
        reauthorize
        or (
            app.can_prompt
            and not as_json
            and confirm(app, f"Renew {len(due)} store{'s' if len(due) > 1 else ''} now?")
        )
    ):
        failed = renew_stores(app, due)
        code = exit_code_after_renewal(result, due, bool(failed))
    if code:
        raise typer.Exit(code)


def _renewable(result: ValidateResult) -> list[str]:
    from soldscope_cli.onboarding.consent_flow import renewable

    return renewable(result.rows)
