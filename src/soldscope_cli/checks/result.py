"""What a live check of one store found, as the database keeps it and as people read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from soldscope_cli.db.model import CHECK_OK, CheckRecord
from soldscope_cli.fleet.config import StoreRecord

APP_REJECTED_MESSAGE = (
    "LWA rejected the app's client credentials — rotate the secret: "
    "soldscope app set --client-secret-stdin"
)


@dataclass(frozen=True)
class StoreCheck:
    """The result of checking one store; `message` is what the database keeps, `hint` the fix."""

    store: str
    outcome: str  # CHECK_OK, CHECK_PROBLEM, CHECK_INCOMPLETE, CHECK_APP_ERROR or SKIPPED
    code: str | None = None
    message: str | None = None
    hint: str | None = None
    request_id: str | None = None
    participating: tuple[str, ...] = ()  # country codes of the region the seller sells in
    added: tuple[str, ...] = ()  # participating but not configured (reported, never a failure)
    # (country code, storeName) of each participating marketplace: who the token's seller is.
    store_names: tuple[tuple[str, str], ...] = ()

    @property
    def reason(self) -> str | None:
        """One line for people: what went wrong (or what changed) and what to do."""
        text = self.message
        if self.code and self.outcome != CHECK_OK:
            text = f"{self.code}: {text}" if text else self.code
        if self.hint:
            text = f"{text} — {self.hint}" if text else self.hint
        return text

    def to_json(self) -> dict[str, Any]:
        """The "check" object validate adds to each store in --json."""
        return {"outcome": self.outcome, "reason": self.reason, "request_id": self.request_id}

    def to_record(self, checked_at: datetime, source: str) -> CheckRecord:
        """The database row of this check (never holds a token)."""
        return CheckRecord(
            store=self.store,
            checked_at=checked_at,
            source=source,
            outcome=self.outcome,
            error_code=None if self.outcome == CHECK_OK else self.code,
            error_message=None if self.outcome == CHECK_OK else self.message,
            request_id=self.request_id,
        )


def reconnect_hint(record: StoreRecord) -> str:
    """The command that gives a store a new refresh token (consent, or a new self-authorization)."""
    if record.self_authorized:
        return (
            f"self-authorize the app again and import the new token: soldscope connect "
            f"{record.name} --refresh-token-stdin"
        )
    return f"renew it: soldscope connect {record.name} (or soldscope validate --reauthorize)"
