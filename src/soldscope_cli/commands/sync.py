"""`soldscope sync`: pull inventory, finances and Brand Analytics data into the state database."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from soldscope_cli.commands.common import complete_store_names, get_context, select_stores
from soldscope_cli.errors import ExitCode, UnhealthyError, UsageError
from soldscope_cli.fleet.config import parse_time
from soldscope_cli.sync import registry

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from soldscope_cli.context import AppContext
    from soldscope_cli.sync.runner import ClientFactory, DatasetResult, StoreResult, SyncReport

MAX_CONCURRENCY = 32
MAX_BA_WEEKS = 104


@dataclass(frozen=True)
class SyncRequest:
    """What `sync` was asked to do, parsed."""

    names: list[str]
    datasets: tuple[str, ...]
    since: datetime | None
    concurrency: int
    ba_weeks: int = 4


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
    ba_weeks: int = 4,
) -> SyncRequest:
    """Validate everything before any lock, network or database is touched (usage → exit 2)."""
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise UsageError(
            f"--concurrency must be between 1 and {MAX_CONCURRENCY}, not {concurrency}",
            hint="the default of 4 suits most agencies",
        )
    if not 1 <= ba_weeks <= MAX_BA_WEEKS:
        raise UsageError(
            f"--ba-weeks must be between 1 and {MAX_BA_WEEKS}, not {ba_weeks}",
            hint="use --since DATE to reach further back",
        )
    return SyncRequest(
        names=names,
        datasets=parse_datasets(datasets),
        since=parse_since(since, app.clock()),
        concurrency=concurrency,
        ba_weeks=ba_weeks,
    )


def run_sync_command(
    app: AppContext,
    request: SyncRequest,
    client_factory: Callable[[AppContext], ClientFactory],
    observer: Any = None,
) -> SyncReport:
    """Take the sync lock, open the log, and sync the selected stores."""
    from soldscope_cli.sync.lock import SyncLock
    from soldscope_cli.sync.logfile import sync_log
    from soldscope_cli.sync.runner import SilentObserver, SyncEnvironment, SyncOptions, run_sync

    records = select_stores(app.config(), request.names)
    with SyncLock(app.paths.sync_lock, app.clock), sync_log(app.paths.log_file):
        client_for = client_factory(app)
        env = SyncEnvironment(
            db=app.database(),
            secrets=app.secret_store(),
            client_for=client_for,
            clock=app.clock,
            sleep=app.sleep,
            monotonic=app.monotonic,
            observer=observer or SilentObserver(),
        )
        options = SyncOptions(
            datasets=request.datasets,
            since=request.since,
            concurrency=request.concurrency,
            ba_weeks=request.ba_weeks,
        )
        return run_sync(records, options, env)


def amazon_clients(app: AppContext) -> ClientFactory:
    """The real client factory: one LWA client and rate limiter shared by every store."""
    from soldscope_cli.amazon.clients import AmazonClients

    return AmazonClients.from_context(app).spapi_for


# --- rendering -----------------------------------------------------------------------------------


def _counts(result: DatasetResult) -> str:
    if result.outcome == "failed":
        return "failed"
    if result.outcome == "not_authorized":
        return "not authorized"
    text = f"+{result.rows_added:,}"
    if result.rows_updated:
        text += f" ~{result.rows_updated:,}"
    return text


def _problems(store: StoreResult) -> list[str]:
    out: list[str] = []
    if store.reason:
        out.append(store.reason)
    for d in store.datasets:
        if d.error and not (store.reason and d.error in store.reason):
            request = f" [request id {d.request_id}]" if d.request_id else ""
            out.append(f"{d.dataset}: {d.error}{request}")
        out.extend(f"{d.dataset}: {n.text}" for n in d.notes if n.warning)
    return out


def store_line(store: StoreResult) -> str:
    """One stable plain-text line per store (piped output, cron mail, --quiet)."""
    parts = [f"{store.name}: {store.outcome}"]
    if store.outcome != "skipped":
        parts.append(f"({store.duration_s:.1f} s)")
    if store.datasets:
        parts.append(", ".join(f"{d.dataset} {_counts(d)}" for d in store.datasets))
    problems = _problems(store)
    line = " ".join(parts)
    if problems:
        line += " — " + "; ".join(problems)
    return line


def has_problem(store: StoreResult) -> bool:
    """Worth showing with --quiet: not ok, or ok with a dataset refused or a warning."""
    return store.outcome != "ok" or bool(_problems(store))


def render_table(console: Console, report: SyncReport, datasets: tuple[str, ...]) -> None:
    """The summary table on a terminal."""
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=True, header_style="bold", pad_edge=False)
    table.add_column("Store", no_wrap=True)
    table.add_column("Outcome", no_wrap=True)
    for name in datasets:
        table.add_column(registry.BY_NAME[name].label, justify="right", no_wrap=True)
    table.add_column("Time", justify="right", no_wrap=True)
    table.add_column("Problem", overflow="fold")
    style = {"ok": "green", "failed": "bold red", "skipped": "yellow"}
    for store in report.stores:
        by_name = {d.dataset: d for d in store.datasets}
        cells: list[Any] = [
            Text(store.name),
            Text(store.outcome, style=style.get(store.outcome, "")),
        ]
        for name in datasets:
            cells.append(Text(_counts(by_name[name]) if name in by_name else "-"))
        cells.append(Text("-" if store.outcome == "skipped" else f"{store.duration_s:.1f} s"))
        cells.append(Text("; ".join(_problems(store)) or "-"))
        table.add_row(*cells)
    console.print(table)


def summary_line(report: SyncReport) -> str:
    """'3 stores: 2 ok, 1 failed; 12,345 rows added, 10 updated'."""
    counts: dict[str, int] = {}
    for store in report.stores:
        counts[store.outcome] = counts.get(store.outcome, 0) + 1
    noun = "store" if len(report.stores) == 1 else "stores"
    parts = ", ".join(f"{n} {k}" for k, n in counts.items())
    added = sum(s.rows_added for s in report.stores)
    updated = sum(s.rows_updated for s in report.stores)
    return f"{len(report.stores)} {noun}: {parts}; {added:,} rows added, {updated:,} updated"


class LineObserver:
    """Piped output: one line per store on stdout as soon as it finishes."""

    def __init__(self, console: Console, *, quiet: bool) -> None:
        self._console = console
        self._quiet = quiet
        self._lock = threading.Lock()

    def store_started(self, store: str) -> None:
        """Nothing to show yet."""

    def progress(self, store: str, text: str) -> None:
        """Nothing: pipes get results, not progress."""

    def store_finished(self, result: StoreResult) -> None:
        """Print the store's line (with --quiet, only if it has a problem)."""
        if self._quiet and not has_problem(result):
            return
        with self._lock:
            self._console.print(store_line(result), markup=False, soft_wrap=True)


class ProgressObserver:
    """A terminal: a live line per store on stderr while it syncs."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def _task(self, store: str) -> TaskID:
        with self._lock:
            task = self._tasks.get(store)
            if task is None:
                task = self._progress.add_task(store, total=None)
                self._tasks[store] = task
            return task

    def store_started(self, store: str) -> None:
        """Show the store as running."""
        self._progress.update(self._task(store), description=f"{store}: starting")

    def progress(self, store: str, text: str) -> None:
        """Show what the store is doing now."""
        self._progress.update(self._task(store), description=f"{store}: {text}")

    def store_finished(self, result: StoreResult) -> None:
        """Freeze the store's line with its outcome."""
        mark = "✓" if result.outcome == "ok" else "✗"
        self._progress.update(
            self._task(result.name),
            description=f"{mark} {result.name}: {result.outcome}",
            total=1,
            completed=1,
        )


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
    ba_weeks: Annotated[
        int,
        typer.Option(
            "--ba-weeks",
            metavar="N",
            help="Completed weeks of Brand Analytics a store's first sync loads.",
        ),
    ] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
) -> None:
    """Pull inventory, finances and Brand Analytics search terms into the local database.

    Incremental and safe to re-run: each dataset keeps a cursor that moves in the same
    transaction as the rows it covers. Stores in error or expired are skipped (run
    `soldscope validate`). One sync runs at a time; a second one exits 75 at once.

    Exit codes: 0 every store synced, 1 a store failed or was skipped, 2 usage, 75 already running.

    Examples:
      soldscope sync
      soldscope sync acme-us --dataset inventory
      soldscope sync --since 2026-01-01 --json
      */30 * * * * soldscope sync --quiet   (crontab)
    """
    app = get_context(ctx)
    request = parse_request(app, names or [], dataset or [], since, concurrency, ba_weeks)
    report = _run_and_render(app, request, as_json=as_json, quiet=quiet)
    if report.app_error is not None:
        raise UnhealthyError(
            f"the app's LWA credentials were rejected: {report.app_error}",
            hint="update the client secret with `soldscope app set --client-secret-stdin` "
            "(Amazon makes them expire every 180 days)",
        )
    if not report.ok:
        raise typer.Exit(int(ExitCode.UNHEALTHY))


def _run_and_render(
    app: AppContext, request: SyncRequest, *, as_json: bool, quiet: bool
) -> SyncReport:
    if not app.config().stores:
        from soldscope_cli.sync.runner import SyncReport

        now = app.clock()
        empty = SyncReport(now, now, [])
        if as_json:
            from soldscope_cli.output.terminal import print_json

            print_json(app.stdout, empty.to_json())
        else:
            app.err.print(
                "No stores yet. Connect one with `soldscope connect NAME --marketplace US`.",
                markup=False,
            )
        return empty
    if as_json:
        from soldscope_cli.output.terminal import print_json

        report = run_sync_command(app, request, amazon_clients)
        print_json(app.stdout, report.to_json())
        return report
    if quiet or not app.stderr_tty:
        report = run_sync_command(
            app, request, amazon_clients, LineObserver(app.err if quiet else app.out, quiet=quiet)
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
        report = run_sync_command(app, request, amazon_clients, ProgressObserver(progress))
    if app.stdout_tty:
        render_table(app.out, report, request.datasets)
    else:
        for store in report.stores:
            app.out.print(store_line(store), markup=False, soft_wrap=True)
    app.out.print(summary_line(report), markup=False)
    return report
