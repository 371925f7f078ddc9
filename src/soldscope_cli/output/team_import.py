"""`soldscope team import`'s report: one line per store and the totals, or JSON (docs/team.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from soldscope_cli.db.model import (
    BRAND_ANALYTICS,
    FINANCES,
    IMPORT_CURSOR_TABLE,
    IMPORT_DATASET_TABLES,
    IMPORT_HISTORY_TABLES,
    IMPORT_WEEKS_TABLE,
    INVENTORY,
)
from soldscope_cli.fleet.team_import import CLIENT_COPIED, CLIENT_KEPT, ImportReport, StoreImport
from soldscope_cli.output.fitting import Layout, hidden_note, render_fitted, wrap_lines

if TYPE_CHECKING:
    from rich.console import Console

# On a terminal: one row per store, fitted to the width (a narrow one drops cursors, then weeks).
LAYOUT = Layout(
    headers=(
        ("store", "Store"),
        ("history", "History"),
        ("cursors", "Cursors"),
        ("inventory", "Inventory"),
        ("finances", "Finances"),
        ("ba", "Brand analytics"),
        ("weeks", "Weeks"),
        ("token", "Token"),
    ),
    steps=(("drop", "cursors"), ("drop", "weeks")),
    right=frozenset({"history", "cursors", "inventory", "finances", "ba", "weeks"}),
)


def _history(store: StoreImport) -> int:
    return sum(store.rows.get(t, 0) for t in IMPORT_HISTORY_TABLES)


def _data(store: StoreImport) -> dict[str, int]:
    return {dataset: store.rows.get(table, 0) for table, dataset in IMPORT_DATASET_TABLES.items()}


def import_json(report: ImportReport) -> dict[str, Any]:
    """The pinned --json shape."""
    secret = "would copy" if report.dry_run else "copied"
    stores = [
        {
            "name": s.name,
            "history": _history(s),
            "cursors": s.rows.get(IMPORT_CURSOR_TABLE, 0),
            "data": _data(s),
            "rows": dict(s.rows),
            "secret": secret if s.secret else "none",
        }
        for s in report.stores
    ]
    return {
        "database": report.database,
        "dry_run": report.dry_run,
        "migrations": list(report.migrations),
        "stores": stores,
        "skipped": list(report.skipped),
        "app_events": report.app_events,
        "client_secret": report.client_secret,
        "pending_invitations": report.pending_invitations,
        "totals": {
            "stores": len(report.stores),
            "history": sum(_history(s) for s in report.stores),
            "data": sum(sum(_data(s).values()) for s in report.stores),
            "secrets": sum(1 for s in report.stores if s.secret)
            + (report.client_secret == CLIENT_COPIED),
        },
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def import_lines(report: ImportReport) -> list[str]:
    """The report for stdout: a headline, one line per store, the totals."""
    doing = "Would import" if report.dry_run else "Imported"
    lines = [f"{doing} {_plural(len(report.stores), 'store')} into {report.database}:"]
    width = max((len(s.name) for s in report.stores), default=0)
    for s in report.stores:
        data = _data(s)
        weeks = s.rows.get(IMPORT_WEEKS_TABLE, 0)
        lines.append(
            f"  {s.name:<{width}}  history {_history(s)}, cursors {s.rows.get(IMPORT_CURSOR_TABLE, 0)},"
            f" inventory {data[INVENTORY]}, finances {data[FINANCES]},"
            f" brand analytics {data[BRAND_ANALYTICS]} ({_plural(weeks, 'week')}),"
            f" refresh token {'to copy' if report.dry_run else 'copied'}"
        )
    totals = import_json(report)["totals"]
    lines.append(
        f"Total: {_plural(totals['stores'], 'store')}, {totals['history']} history rows,"
        f" {totals['data']} data rows, {_plural(totals['secrets'], 'secret')}"
        f"{' (with the client secret)' if report.client_secret == CLIENT_COPIED else ''}."
    )
    return lines


def _headline(report: ImportReport) -> str:
    doing = "Would import" if report.dry_run else "Imported"
    return f"{doing} {_plural(len(report.stores), 'store')} into {report.database}:"


def render_import_table(console: Console, report: ImportReport, *, color: bool) -> None:
    """The report on a terminal: the headline, a fitted table (values never split), the totals."""
    for line in wrap_lines([_headline(report)], console.width):
        console.print(line, markup=False, highlight=False)
    token = "to copy" if report.dry_run else "copied"
    full = []
    for s in report.stores:
        data = _data(s)
        full.append(
            {
                "store": s.name,
                "history": f"{_history(s):,}",
                "cursors": f"{s.rows.get(IMPORT_CURSOR_TABLE, 0):,}",
                "inventory": f"{data[INVENTORY]:,}",
                "finances": f"{data[FINANCES]:,}",
                "ba": f"{data[BRAND_ANALYTICS]:,}",
                "weeks": str(s.rows.get(IMPORT_WEEKS_TABLE, 0)),
                "token": token if s.secret else "-",
            }
        )
    if full:
        empty: list[dict[str, str]] = [{} for _ in full]
        view = render_fitted(console, LAYOUT, full, empty, empty, color=color)
        note = hidden_note(view, "`--json` has every figure")
        if note:
            console.print(note, markup=False, highlight=False)
    for line in wrap_lines([import_lines(report)[-1]], console.width):
        console.print(line, markup=False, highlight=False)


def import_notes(report: ImportReport) -> list[str]:
    """What to tell on stderr: what was left out, what happens to config.toml."""
    notes: list[str] = []
    if report.migrations:
        verb = "would apply" if report.dry_run else "applied"
        notes.append(
            f"the team database was not prepared: {verb} {_plural(len(report.migrations), 'migration')}"
        )
    if report.skipped:
        notes.append(
            f"skipped {_plural(len(report.skipped), 'store')} the team database already has: "
            f"{', '.join(report.skipped)} (the team's stay as they are)"
        )
    if report.client_secret == CLIENT_KEPT:
        notes.append(
            "the team's secret store holds another LWA client secret: it was kept, this home's "
            "was not copied"
        )
    if report.pending_invitations:
        notes.append(
            f"{_plural(report.pending_invitations, 'pending invitation')} stay in this home's "
            "local database: send new ones from a team host (`soldscope invite NAME`)"
        )
    if report.dry_run:
        notes.append("dry run: nothing was written")
    elif report.stores:
        notes.append(
            "this home now shows the team database's stores; config.toml was left as it was "
            "(its [stores.*] tables are not read while a database URL is set: remove them by "
            "hand when you like), and the local database and secrets were not changed"
        )
    return notes
