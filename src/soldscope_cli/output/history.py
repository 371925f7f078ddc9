"""`soldscope log`: a connection's history as a table on a terminal, aligned lines or JSON.

On a terminal the table fits the width without splitting a value: the detail loses seller IDs and
messages first (the messages are printed below the table), then goes below the table altogether.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from soldscope_cli.db.model import HistoryEntry
from soldscope_cli.fleet.config import format_time
from soldscope_cli.output.fitting import Layout, TableView, render_fitted, wrap_lines

if TYPE_CHECKING:
    from rich.console import Console

LABELS = {
    "connected": "connected",
    "reauthorized": "renewed",
    "status_changed": "status",
    "sync_failed": "sync failed",
    "deleted": "deleted",
    "checked": "checked",
    "invited": "invited",
    "invitation_used": "invite used",
    "invitation_failed": "invite failed",
    "invitation_revoked": "invite revoked",
}


def entry_json(entry: HistoryEntry) -> dict[str, Any]:
    """The pinned --json shape of one entry (docs/log.md)."""
    return {
        "at": format_time(entry.at),
        "store": entry.store,
        "kind": entry.kind,
        "detail": dict(entry.detail),
    }


def describe(entry: HistoryEntry, *, brief: bool = False) -> str:
    """What happened, in words; `brief` leaves out seller IDs and messages (for narrow tables)."""
    d = entry.detail
    if entry.kind in ("connected", "reauthorized"):
        where = ",".join(d.get("marketplaces") or []) or "?"
        text = f"{where} ({d.get('region', '?')})"
        if brief:
            return text
        return text + (f", seller {d['selling_partner_id']}" if d.get("selling_partner_id") else "")
    if entry.kind == "status_changed":
        text = f"{d.get('from', '?')} → {d.get('to', '?')}"
        if d.get("code"):
            text += f": {d['code']}"
        if d.get("message") and not brief:
            text += f": {d['message']}"
        return text
    if entry.kind == "sync_failed":
        text = str(d.get("dataset", "?"))
        if d.get("outcome") and d.get("outcome") != "failed":
            text += f" ({d['outcome']})"
        elif brief and d.get("code"):
            text += f": {d['code']}"
        if brief:
            return text
        for key in ("code", "message"):
            if d.get(key):
                text += f": {d[key]}"
        return text
    if entry.kind == "deleted":
        if "purged_rows" in d:
            return f"record and token removed; history and data purged ({d['purged_rows']:,} rows)"
        return "record and token removed; history and data kept"
    if entry.kind == "checked":
        return str(d.get("outcome", ""))
    if entry.kind == "invited":
        text = f"{d.get('kind', '?')}, until {str(d.get('expires_at', '?'))[:10]}"
        return text if brief else f"{text} (invitation {d.get('invitation_id', '?')})"
    if entry.kind == "invitation_used":
        text = f"{d.get('kind', '?')} consented"
        if d.get("selling_partner_id") and not brief:
            text += f", seller {d['selling_partner_id']}"
        return text
    if entry.kind == "invitation_failed":
        reason = str(d.get("reason", "?")).replace("_", " ")
        return reason if brief or not d.get("message") else f"{reason}: {d['message']}"
    if entry.kind == "invitation_revoked":
        return f"invitation {d.get('invitation_id', '?')} ended"
    return json.dumps(d, sort_keys=True) if d else ""


def _when(entry: HistoryEntry) -> str:
    return entry.at.strftime("%Y-%m-%d %H:%MZ")


def history_text(entries: Sequence[HistoryEntry]) -> str:
    """Aligned lines, newest first: time, store, what happened, detail (never truncated)."""
    rows = [
        (
            _when(entry),
            entry.store,
            LABELS.get(entry.kind, entry.kind),
            describe(entry),
        )
        for entry in entries
    ]
    header = ("When", "Store", "Event", "Detail")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
        for r in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


LAYOUT = Layout(
    (("when", "When"), ("store", "Store"), ("event", "Event"), ("detail", "Detail")),
    (("short", "detail"), ("drop", "detail")),
    short_hides=(("detail", "seller IDs"),),
)


def _event_style(entry: HistoryEntry) -> str:
    if entry.kind in ("connected", "reauthorized"):
        return "green"
    if entry.kind in ("sync_failed", "deleted"):
        return "red"
    if entry.kind == "status_changed":
        to = entry.detail.get("to")
        return "green" if to == "active" else "red" if to in ("error", "expired") else "yellow"
    return ""


def render_history(console: Console, entries: Sequence[HistoryEntry], *, color: bool) -> TableView:
    """The history as a table fitted to the terminal (see the module docstring)."""
    full = [
        {
            "when": _when(e),
            "store": e.store,
            "event": LABELS.get(e.kind, e.kind),
            "detail": describe(e),
        }
        for e in entries
    ]
    short = [{"detail": describe(e, brief=True)} for e in entries]
    styles = [{"event": _event_style(e)} for e in entries]
    return render_fitted(console, LAYOUT, full, short, styles, color=color)


# Kinds whose brief detail leaves out only what the hidden note names (seller IDs, invitation ids).
_BRIEF_ENOUGH = ("connected", "reauthorized", "invited")


def history_notes(entries: Sequence[HistoryEntry], view: TableView) -> list[str]:
    """The detail the table did not show in full: all of it without the column, else messages."""
    if view.shows_full("detail"):
        return []
    shown = "detail" in view.columns
    lines = [
        f"{_when(e)} {e.store}: {describe(e)}"
        for e in entries
        if not shown or (e.kind not in _BRIEF_ENOUGH and describe(e, brief=True) != describe(e))
    ]
    return wrap_lines(lines, view.room)
