"""`soldscope validate`: check every connection live against Amazon and record the outcome."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from soldscope_cli.commands.common import complete_store_names, get_context, select_stores
from soldscope_cli.context import AppContext
from soldscope_cli.listing import summary
from soldscope_cli.store import CHECK_OK

if TYPE_CHECKING:
    from soldscope_cli.health import HealthClients, ProgressCallback, StoreCheck, ValidateResult

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
    from soldscope_cli.health import validate_stores

    records = select_stores(ctx.config(), names)

    def make_clients() -> HealthClients:
        from soldscope_cli.amazon import AmazonClients

        return AmazonClients.from_context(ctx)

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
    from soldscope_cli.health import APP_REJECTED_MESSAGE

    if as_json:
        from soldscope_cli.output import print_json

        data = []
        for row in result.rows:
            item = row.to_json()
            check = result.checks.get(row.name)
            item["check"] = None if check is None else check.to_json()
            data.append(item)
        print_json(app.stdout, data)
    elif not result.rows:
        app.err.print(
            "No stores yet. Connect one with "
            "`soldscope connect NAME --marketplace US --refresh-token-stdin`.",
            markup=False,
        )
    else:
        from soldscope_cli.output import render_store_table

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
) -> None:
    """Check each connection live: refresh its token and list its marketplaces at Amazon.

    Records every outcome; a check that cannot complete (Amazon down, throttled, timeouts) never
    changes a status. Exit 0 when all are active or expiring soon, 1 when one is in error or
    expired or the app's credentials were rejected, 3 when some check could not complete and none
    is known bad. Never prompts.

    Examples:
      soldscope validate
      soldscope validate acme-us acme-eu
      soldscope validate --json | jq '.[] | select(.status == "error") | .name'
    """
    app = get_context(ctx)
    with _progress(app) as progress:
        result = run_validate(app, names or [], concurrency=concurrency, progress=progress)
    render(app, result, as_json)
    code = int(result.exit_code)
    if code:
        raise typer.Exit(code)
