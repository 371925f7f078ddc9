"""CSV of the store rows: a header row, one row per store, RFC 4180 quoting."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from soldscope_cli.fleet.listing import StoreRow

# The --json keys, with the error object as two fields (docs/list.md).
CSV_FIELDS = (
    "name",
    "region",
    "marketplaces",
    "selling_partner_id",
    "status",
    "authorized_at",
    "expires_at",
    "days_left",
    "last_checked_at",
    "last_sync_at",
    "error_code",
    "error_message",
)


def store_csv(rows: Sequence[StoreRow]) -> str:
    """The rows as CSV (CRLF line ends, as RFC 4180 says); marketplaces joined by commas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # the default dialect quotes what needs it, ends lines with CRLF
    writer.writerow(CSV_FIELDS)
    for row in rows:
        data = row.to_json()
        error = data.pop("error") or {}
        data["marketplaces"] = ",".join(data["marketplaces"])
        data["error_code"] = error.get("code")
        data["error_message"] = error.get("message")
        writer.writerow(["" if data[k] is None else data[k] for k in CSV_FIELDS])
    return buffer.getvalue()
