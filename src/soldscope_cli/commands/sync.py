"""`soldscope sync`: pull inventory, finances and Brand Analytics data into the state database."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from soldscope_cli.commands.common import (
    ExpectStores,
    NoNotify,
    check_expected_stores,
    complete_datasets,
    complete_store_names,
    get_context,
    rotate_if_due,
    rotation_queue_set,
    say_notify_failures,
)
from soldscope_cli.datasets import registry
from soldscope_cli.errors import ExitCode, SoldscopeError, UnhealthyError, UsageError
from soldscope_cli.fleet.config import parse_time

if TYPE_CHECKING:
    from soldscope_cli.context import AppContext
    from soldscope_cli.sync.runner import SyncReport
    from soldscope_cli.sync.session import SyncRequest

MAX_CONCURRENCY = 32


def parse_datasets(values: list[str]) -> tuple[str, ...]:
    """--dataset values in canonical order (all when none given); UsageError for unknown ones."""
    return registry.parse(values)


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """--since as a UTC time (a date alone is midnight UTC); it must lie in the past."""
    if value is None:
        return None
    try:
        since = parse_time(value)
    except ValueError:
        raise UsageError(
            f"--since {value!r} is not a date", hint="use e.g. --since 2026-01-01"
        ) from None
    if since >= now:
        raise UsageError(f"--since {value} is not in the past", hint="use an earlier date")
    return since


def parse_request(
    app: AppContext,
    names: list[str],
    datasets: list[str],
    since: str | None,
    concurrency: int,
    options: Mapping[str, int | None] | None = None,
) -> SyncRequest:
    """Validate everything before any lock, network or database is touched (usage → exit 2)."""
    from soldscope_cli.sync.session import SyncRequest

    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise UsageError(
            f"--concurrency must be between 1 and {MAX_CONCURRENCY}, not {concurrency}",
            hint="the default of 4 suits most agencies",
        )
    given: dict[str, int] = {}
    for key, value in (options or {}).items():
        if value is None:
            continue
        option = registry.OPTIONS[key]
        try:
            given[key] = option.check(value, option.flag)
        except ValueError as exc:
            raise UsageError(str(exc), hint=option.hint) from None
    return SyncRequest(
        names=names,
        datasets=parse_datasets(datasets),
        since=parse_since(since, app.clock()),
        concurrency=concurrency,
        options=given,
    )


# --- rendering -----------------------------------------------------------------------------------


def sync_command(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME]...",
            help="Stores to sync (default: all).",
            autocompletion=complete_store_names,
            show_default=False,
        ),
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            "--dataset",
            "-d",
            autocompletion=complete_datasets,
            help=f"{', '.join(registry.NAMES[:-1])} or {registry.NAMES[-1]} "
            "(repeatable; default: all).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="First run (or backfill): read finances and Brand Analytics weeks from DATE.",
            show_default=False,
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", metavar="N", help="Stores synced at the same time.")
    ] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
    expect_stores: ExpectStores = None,
    no_notify: NoNotify = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Keep running: sync each store's datasets whenever they are due (\\[watch] "
            "intervals in config.toml), for a systemd service. SIGTERM or Ctrl-C stop it.",
        ),
    ] = False,
    **dataset_options: int | None,
) -> None:
    """Pull inventory, finances and Brand Analytics search terms into the local database.

    Incremental and safe to re-run: each dataset keeps a cursor that moves in the same transaction as the rows it covers. Stores in error or expired are skipped (run `soldscope validate`). One sync runs at a time; a second one exits 75 at once.

    A failed sync, a status change and the app's rejection are sent to the alert targets once each (docs/alerts.md); --no-notify sends none.

    Exit codes: 0 every store synced, 1 a store failed or was skipped, 2 usage, 75 already running, 130 Ctrl-C (after the partial summary). In team mode (a PostgreSQL database) several syncs may run at once on any hosts: each store is synced by one of them, and the others report it busy (exit 0).

    --watch keeps a worker running: every store's dataset is synced when its \\[watch] interval has passed since its last sync (inventory 6 h, finances 12 h, Brand Analytics 24 h by default); one line per store and a summary per round (with --json, one JSON report per line). SIGTERM stops it after the current batches (exit 0), Ctrl-C too (exit 130).

    Examples:
      soldscope sync
      soldscope sync acme-us --dataset inventory
      soldscope sync --since 2026-01-01 --json
      */30 * * * * soldscope sync --quiet   (crontab)
      soldscope sync --watch --quiet
    """
    app = get_context(ctx)
    check_expected_stores(app, expect_stores)
    request = parse_request(app, names or [], dataset or [], since, concurrency, dataset_options)
    if watch:
        if since is not None:
            raise UsageError(
                "--since is for one backfill run, not for --watch",
                hint="run `soldscope sync --since DATE` once, then start `soldscope sync --watch`",
            )
        raise typer.Exit(_watch(app, request, as_json=as_json, quiet=quiet, notify=not no_notify))
    report = _run_and_render(app, request, as_json=as_json, quiet=quiet)
    if not no_notify and report.stores and not report.interrupted:
        _notify(app, report)
    if report.interrupted:
        raise typer.Exit(int(ExitCode.INTERRUPTED))  # after the partial summary
    if report.local_error is not None:
        raise report.local_error  # after the summary: exit 74, said once
    if report.app_error is not None:
        raise UnhealthyError(
            f"the app's LWA credentials were rejected: {report.app_error}",
            hint="update the client secret with `soldscope app set --client-secret-stdin` "
            "(Amazon makes them expire every 180 days)",
        )
    if report.partial:
        raise typer.Exit(int(ExitCode.INCOMPLETE))  # nothing failed; the backfill goes on
    if not report.ok:
        raise typer.Exit(int(ExitCode.UNHEALTHY))


def _with_dataset_options(command: Callable[..., None]) -> Callable[..., None]:
    """The command with one flag per dataset option (each dataset declares its own), in place of
    its **dataset_options: Typer reads the parameters from the signature."""
    signature = inspect.signature(command, eval_str=True)
    fixed = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    flags = [
        inspect.Parameter(
            option.key,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                int | None,
                typer.Option(
                    option.flag,
                    metavar="N",
                    help=f"{option.help} Default {option.default}, or [sync] {option.key} in "
                    f"config.toml.".replace("[sync]", "\\[sync]"),
                    show_default=False,
                ),
            ],
        )
        for option in registry.OPTIONS.values()
    ]
    command.__signature__ = signature.replace(parameters=[*fixed, *flags])  # type: ignore[attr-defined]
    return command


sync_command = _with_dataset_options(sync_command)


def _notify(app: AppContext, report: SyncReport) -> None:
    from soldscope_cli.fleet.listing import build_rows
    from soldscope_cli.notify.alerts import dataset_access, sync_outcome
    from soldscope_cli.notify.announce import Observed, announce_observed
    from soldscope_cli.sync.runner import BUSY, FAILED, NOT_AUTHORIZED, OK, PARTIAL, SKIPPED

    # The stores and states the run itself saw and left: nothing is read again.
    rows = build_rows(report.records, report.states, app.clock())
    regions = {r.name: r.region for r in report.records}
    by_name = {row.name: row for row in rows}
    outcomes = [
        sync_outcome(
            s.name, regions.get(s.name, "?"), s.outcome == FAILED, s.reason, by_name.get(s.name)
        )
        for s in report.stores
        if s.outcome not in (SKIPPED, BUSY)
    ]
    access = [
        dataset_access(
            s.name,
            regions.get(s.name, "?"),
            d.dataset,
            registry.BY_NAME[d.dataset].label,
            d.outcome != NOT_AUTHORIZED,
            d.error,
            by_name.get(s.name),
        )
        for s in report.stores
        for d in s.datasets
        if d.outcome in (OK, PARTIAL, NOT_AUTHORIZED)
    ]
    observed = Observed(
        rows,
        outcomes,
        access,
        app_error=report.app_error,
        app_checked=bool(outcomes),
        rotation_queue=rotation_queue_set(app),
    )
    say_notify_failures(
        app, announce_observed(app.notifier(), app.database(), app.config(), observed, app.clock)
    )


def _watch(
    app: AppContext, request: SyncRequest, *, as_json: bool, quiet: bool, notify: bool
) -> int:
    """Rounds until SIGTERM (exit 0) or Ctrl-C (130); each round printed as lines or JSON."""
    import signal
    import threading

    from soldscope_cli.fleet.config import format_time
    from soldscope_cli.output.sync import LineObserver, summary_line
    from soldscope_cli.sync.session import watch_sync

    stop = threading.Event()
    terminated: list[int] = []
    broken: list[SoldscopeError] = []

    def on_term(signum: int, frame: object) -> None:
        terminated.append(signum)
        stop.set()
        raise KeyboardInterrupt  # a round in progress stops as on Ctrl-C: batches finish

    previous = signal.signal(signal.SIGTERM, on_term)

    def on_round(sub: SyncRequest, report: SyncReport) -> bool:
        if as_json:
            import json

            app.stdout.write(json.dumps(report.to_json(), ensure_ascii=False) + "\n")
            app.stdout.flush()
        elif not quiet or not report.ok:
            app.out.print(f"{format_time(report.finished_at)} {summary_line(report)}", markup=False)
        if notify and report.stores and not report.interrupted:
            _notify(app, report)
        if report.local_error is not None:
            broken.append(report.local_error)  # this machine cannot store data: stop, exit 74
        if not report.interrupted and report.local_error is None:
            rotated = rotate_if_due(app)
            if rotated is not None:
                app.err.print(f"{format_time(app.clock())} {rotated}", markup=False, soft_wrap=True)
        return not report.interrupted and report.local_error is None

    def on_busy(message: str) -> None:
        app.err.print(f"waiting: {message}", markup=False, soft_wrap=True)

    def observer() -> LineObserver | None:
        return None if as_json else LineObserver(app.out, quiet=quiet)

    if not as_json and not quiet:
        app.err.print(
            "watching: each store's datasets are synced when due; SIGTERM or Ctrl-C stops",
            markup=False,
        )
    try:
        watch_sync(app, request, stop=stop, on_round=on_round, on_busy=on_busy, observer=observer)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    if broken:
        raise broken[0]
    if terminated:
        return int(ExitCode.OK)
    return int(ExitCode.INTERRUPTED)


def _run_and_render(
    app: AppContext, request: SyncRequest, *, as_json: bool, quiet: bool
) -> SyncReport:
    if not app.config().stores:
        from soldscope_cli.sync.runner import SyncReport

        now = app.clock()
        empty = SyncReport(now, now, [])
        if as_json:
            from soldscope_cli.output.jsonout import print_json

            print_json(app.stdout, empty.to_json())
        else:
            app.err.print(
                "No stores yet. Connect one with `soldscope connect NAME --marketplace US`.",
                markup=False,
            )
        return empty
    from soldscope_cli.output.sync import (
        LineObserver,
        ProgressObserver,
        render_table,
        store_line,
        summary_line,
    )
    from soldscope_cli.sync.session import run_sync_command

    def stopping() -> None:
        app.err.print(
            "stopping… (the current batches finish; Ctrl-C again to quit now)", markup=False
        )

    if as_json:
        from soldscope_cli.output.jsonout import print_json

        report = run_sync_command(app, request, on_interrupt=stopping)
        print_json(app.stdout, report.to_json())
        return report
    if quiet or not app.stderr_tty:
        report = run_sync_command(
            app,
            request,
            LineObserver(app.err if quiet else app.out, quiet=quiet),
            on_interrupt=stopping,
        )
        if not quiet:
            app.out.print(summary_line(report), markup=False)
        return report
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=app.err,
        transient=True,
    )
    with progress:
        report = run_sync_command(app, request, ProgressObserver(progress), on_interrupt=stopping)
    if app.stdout_tty:
        hidden = render_table(app.out, report, request.datasets)
        if hidden:
            app.err.print(
                f"Hidden to fit {app.out.width} columns: {', '.join(hidden)}; "
                "a wider terminal shows it",
                markup=False,
            )
    else:
        for store in report.stores:
            app.out.print(store_line(store), markup=False, soft_wrap=True)
    app.out.print(summary_line(report), markup=False)
    return report
