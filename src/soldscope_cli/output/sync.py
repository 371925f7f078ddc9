"""What sync shows: a line or table row per store, the summary, live progress."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from soldscope_cli.sync import registry
from soldscope_cli.sync.runner import DatasetResult, StoreResult, SyncReport

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


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
