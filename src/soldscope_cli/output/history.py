"""`soldscope log`: a connection's history as aligned lines or as JSON objects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from soldscope_cli.db.model import HistoryEntry
from soldscope_cli.fleet.config import format_time

LABELS = {
    "connected": "connected",
    "reauthorized": "renewed",
    "status_changed": "status",
    "sync_failed": "sync failed",
    "deleted": "deleted",
    "checked": "checked",
}


def entry_json(entry: HistoryEntry) -> dict[str, Any]:
    """The pinned --json shape of one entry (docs/log.md)."""
    return {
        "at": format_time(entry.at),
        "store": entry.store,
        "kind": entry.kind,
        "detail": dict(entry.detail),
    }


def describe(entry: HistoryEntry) -> str:
    """What happened, in words."""
    d = entry.detail
    if entry.kind in ("connected", "reauthorized"):
        where = ",".join(d.get("marketplaces") or []) or "?"
        text = f"{where} ({d.get('region', '?')})"
        return text + (f", seller {d['selling_partner_id']}" if d.get("selling_partner_id") else "")
    if entry.kind == "status_changed":
        text = f"{d.get('from', '?')} → {d.get('to', '?')}"
        if d.get("code"):
            text += f": {d['code']}"
        if d.get("message"):
            text += f": {d['message']}"
        return text
    if entry.kind == "sync_failed":
        text = str(d.get("dataset", "?"))
        if d.get("outcome") and d.get("outcome") != "failed":
            text += f" ({d['outcome']})"
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
    return json.dumps(d, sort_keys=True) if d else ""


def history_text(entries: Sequence[HistoryEntry]) -> str:
    """Aligned lines, newest first: time, store, what happened, detail (never truncated)."""
    rows = [
        (
            entry.at.strftime("%Y-%m-%d %H:%MZ"),
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
