"""What sync shows: a line or table row per store, the summary, live progress."""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

from soldscope_cli.datasets import registry
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


def _time(store: StoreResult) -> str:
    """'306.6 s', or '306.6 s, 306 s of it on Amazon's quota' when the rate limit held it up."""
    text = f"{store.duration_s:.1f} s"
    if store.quota_wait_s >= 0.5:
        text += f", {store.quota_wait_s:.0f} s of it on Amazon's quota"
    return text


def store_line(store: StoreResult) -> str:
    """One stable plain-text line per store (piped output, cron mail, --quiet)."""
    parts = [f"{store.name}: {store.outcome}"]
    if store.outcome not in ("skipped", "busy"):
        parts.append(f"({_time(store)})")
    if store.datasets:
        parts.append(", ".join(f"{d.dataset} {_counts(d)}" for d in store.datasets))
    problems = _problems(store)
    line = " ".join(parts)
    if problems:
        line += " — " + "; ".join(problems)
    return line


def has_problem(store: StoreResult) -> bool:
    """Worth showing with --quiet: not ok, or ok with a dataset refused or a warning."""
    return store.outcome not in ("ok", "busy") or bool(_problems(store))


_SHORT_LABELS = {
    "inventory": "Inv.",
    "finances": "Fin.",
    "brand-analytics": "BA",
    "orders": "Ord.",
    "returns": "Ret.",
    "reimbursements": "Reimb.",
}
_NOT_AUTHORIZED_SHORT = "no role"


def render_table(console: Console, report: SyncReport, datasets: tuple[str, ...]) -> list[str]:
    """The summary table on a terminal, fitted to its width; returns the headers it hid.

    A value is never split: when the table is too wide, problems move to lines below it, then
    dataset headers are abbreviated, then the Time column is hidden, then "not authorized" is
    written "no role" (explained below the table), then dataset columns are hidden from the
    right.
    """
    from rich.table import Table
    from rich.text import Text

    from soldscope_cli.output.fitting import table_width

    rows: list[list[str]] = []
    for store in report.stores:
        by_name = {d.dataset: d for d in store.datasets}
        cells = [store.name, store.outcome]
        cells += [_counts(by_name[n]) if n in by_name else "-" for n in datasets]
        cells.append("-" if store.outcome in ("skipped", "busy") else _time(store))
        cells.append("; ".join(_problems(store)) or "-")
        rows.append(cells)

    def fits(headers: list[str], keep: list[int]) -> bool:
        widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in keep]
        return table_width(widths, boxed=True) <= console.width

    headers = [
        "Store",
        "Outcome",
        *(registry.BY_NAME[n].label for n in datasets),
        "Time",
        "Problem",
    ]
    time_col, problem_col = len(headers) - 2, len(headers) - 1
    keep = list(range(len(headers)))
    hidden: list[str] = []
    below = False
    if rows and not fits(headers, keep):
        keep.remove(problem_col)
        below = True
        if not fits(headers, keep):
            headers[2:time_col] = [
                _SHORT_LABELS.get(n, registry.BY_NAME[n].label) for n in datasets
            ]
        if not fits(headers, keep):
            keep.remove(time_col)
            hidden.append("Time")
        if not fits(headers, keep):
            for cells in rows:
                cells[2:time_col] = [
                    _NOT_AUTHORIZED_SHORT if c == "not authorized" else c for c in cells[2:time_col]
                ]
        while not fits(headers, keep) and len([i for i in keep if 2 <= i < time_col]) > 1:
            last = max(i for i in keep if 2 <= i < time_col)
            keep.remove(last)
            hidden.append(registry.BY_NAME[datasets[last - 2]].label)

    table = Table(show_header=True, header_style="bold", pad_edge=False)
    for i in keep:
        table.add_column(
            headers[i], justify="right" if 2 <= i <= time_col else "left", no_wrap=True
        )
    style = {
        "ok": "green",
        "partial": "yellow",
        "failed": "bold red",
        "skipped": "yellow",
        "busy": "cyan",
    }
    for store, cells in zip(report.stores, rows, strict=True):
        texts: list[Any] = [Text(cells[i]) for i in keep]
        texts[1] = Text(store.outcome, style=style.get(store.outcome, ""))
        table.add_row(*texts)
    console.print(table)
    if below:
        for store in report.stores:
            for problem in _problems(store):
                console.print(f"{store.name}: {problem}", markup=False)
    return hidden


def summary_line(report: SyncReport) -> str:
    """'3 stores: 2 ok, 1 failed; 12,345 rows added, 10 updated'."""
    counts: dict[str, int] = {}
    for store in report.stores:
        counts[store.outcome] = counts.get(store.outcome, 0) + 1
    noun = "store" if len(report.stores) == 1 else "stores"
    parts = ", ".join(f"{n} {k}" for k, n in counts.items())
    added = sum(s.rows_added for s in report.stores)
    updated = sum(s.rows_updated for s in report.stores)
    line = f"{len(report.stores)} {noun}: {parts}; {added:,} rows added, {updated:,} updated"
    if report.interrupted:
        line += "; stopped by Ctrl-C — run `soldscope sync` again to finish"
    return line


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


_MARKETPLACE_ID = re.compile(r"\bA[A-Z0-9]{9,13}\b")


def with_country_codes(text: str) -> str:
    """'inventory A1PM5WFDC1UHVH (fba) page 2' → 'inventory DE (fba) page 2': people know codes."""
    from soldscope_cli.amazon.marketplaces import BY_ID

    def code(match: re.Match[str]) -> str:
        market = BY_ID.get(match.group(0))
        return market.code if market is not None else match.group(0)

    return _MARKETPLACE_ID.sub(code, text)


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
        """Show what the store is doing now (marketplaces by country code, not by id)."""
        self._progress.update(self._task(store), description=f"{store}: {with_country_codes(text)}")

    def store_finished(self, result: StoreResult) -> None:
        """Freeze the store's line with its outcome."""
        mark = {"ok": "✓", "busy": "·"}.get(result.outcome, "✗")
        self._progress.update(
            self._task(result.name),
            description=f"{mark} {result.name}: {result.outcome}",
            total=1,
            completed=1,
        )
