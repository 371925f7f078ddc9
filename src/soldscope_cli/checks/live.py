"""Live connection checks: one store (LWA refresh + Sellers API), then many stores concurrently."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from soldscope_cli.amazon.lwa import AppCredentialsRejected, GrantRejected, LwaError
from soldscope_cli.amazon.marketplaces import BY_ID
from soldscope_cli.amazon.spapi import (
    PARTICIPATIONS_OPERATION,
    PARTICIPATIONS_PATH,
    SpapiError,
    SpapiForbidden,
    SpapiResponse,
    participations_payload,
)
from soldscope_cli.db.database import (
    CHECK_APP_ERROR,
    CHECK_INCOMPLETE,
    CHECK_OK,
    CHECK_PROBLEM,
    CheckRecord,
    Database,
    StoreState,
)
from soldscope_cli.errors import ExitCode
from soldscope_cli.fleet.config import StoreRecord
from soldscope_cli.fleet.listing import StoreRow, build_row, build_rows
from soldscope_cli.fleet.secrets import SecretStore, token_key
from soldscope_cli.redact import redact
from soldscope_cli.status import Problem

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 8
# Not a database outcome: the check never ran because the app's credentials were rejected first.
SKIPPED = "skipped"

MISSING_TOKEN = "missing_token"
MARKETPLACE_MISMATCH = "marketplace_mismatch"
FORBIDDEN = "forbidden"
INVALID_GRANT = "invalid_grant"

APP_REJECTED_MESSAGE = (
    "LWA rejected the app's client credentials — rotate the secret: "
    "soldscope app set --client-secret-stdin"
)


class AccessTokens(Protocol):
    """Turns a store's refresh token into an access token (soldscope_cli.amazon.lwa.LwaClient)."""

    def access_token(self, refresh_token: str) -> str: ...


class SellerApi(Protocol):
    """The one SP-API call a check needs (soldscope_cli.amazon.spapi.SpapiClient)."""

    def request(self, method: str, path: str, *, operation: str) -> SpapiResponse: ...


class HealthClients(Protocol):
    """What a check is given (soldscope_cli.amazon.clients.AmazonClients provides it)."""

    @property
    def lwa(self) -> AccessTokens: ...

    def spapi_for(self, record: StoreRecord, refresh_token: str) -> SellerApi: ...


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


def missing_token(record: StoreRecord) -> StoreCheck:
    """The problem of a store whose refresh token is not in the secret store."""
    return StoreCheck(
        store=record.name,
        outcome=CHECK_PROBLEM,
        code=MISSING_TOKEN,
        message="no refresh token for this store in the secret store",
        hint=reconnect_hint(record),
    )


def compare_marketplaces(
    record: StoreRecord, payload: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[str], list[str]]:
    """(participating, missing, added) country codes of the store's region.

    Unknown ids (Amazon lists "non-Amazon" ones such as A2ZV50J4W1RKNI) are ignored; only
    isParticipating=true counts (FACTS §6).
    """
    participating: list[str] = []
    for item in payload:
        market = item.get("marketplace")
        status = item.get("participation")
        if not isinstance(market, Mapping) or not isinstance(status, Mapping):
            continue
        known = BY_ID.get(str(market.get("id")))
        if known is None or known.region != record.region:
            continue
        if status.get("isParticipating") is True and known.code not in participating:
            participating.append(known.code)
    missing = [code for code in record.marketplaces if code not in participating]
    added = [code for code in participating if code not in record.marketplaces]
    return participating, missing, added


def check_store(record: StoreRecord, refresh_token: str, clients: HealthClients) -> StoreCheck:
    """Check one store: refresh its token, list its marketplaces, compare. Never raises."""
    name = record.name
    try:
        # Refreshing first attributes an LWA failure to LWA; the SP-API call reuses the token.
        clients.lwa.access_token(refresh_token)
        response = clients.spapi_for(record, refresh_token).request(
            "GET", PARTICIPATIONS_PATH, operation=PARTICIPATIONS_OPERATION
        )
        participating, missing, added = compare_marketplaces(
            record, participations_payload(response, store=name)
        )
    except AppCredentialsRejected as exc:
        return StoreCheck(
            name,
            CHECK_APP_ERROR,
            exc.code,
            exc.description or str(exc),
            request_id=exc.request_id,
        )
    except GrantRejected as exc:
        return StoreCheck(
            name,
            CHECK_PROBLEM,
            INVALID_GRANT,
            "Login with Amazon refused the refresh token: the seller revoked the authorization "
            "or it expired",
            hint=reconnect_hint(record),
            request_id=exc.request_id,
        )
    except LwaError as exc:
        # Transient (5xx, timeouts after retries) or a refused request: nothing known about the
        # store, so its status must not change.
        return StoreCheck(
            name,
            CHECK_INCOMPLETE,
            exc.code,
            _lwa_text(exc),
            hint=exc.hint,
            request_id=exc.request_id,
        )
    except SpapiForbidden as exc:
        message = exc.message or "Access to requested resource is denied."
        if exc.details:
            message += f" ({exc.details})"
        return StoreCheck(
            name, CHECK_PROBLEM, FORBIDDEN, message, hint=exc.hint, request_id=exc.request_id
        )
    except SpapiError as exc:
        status = f"HTTP {exc.status} " if exc.status is not None else ""
        text = f"{status}{exc.code}" + (f": {exc.message}" if exc.message else "")
        return StoreCheck(
            name, CHECK_INCOMPLETE, exc.code, text, hint=exc.hint, request_id=exc.request_id
        )
    except Exception as exc:  # a bug must not stop the other stores' checks
        log.debug("check of %s failed unexpectedly", name, exc_info=True)
        return StoreCheck(
            name,
            CHECK_INCOMPLETE,
            "internal_error",
            redact(f"unexpected {type(exc).__name__}: {exc}")[:300],
            hint="run again with --debug and report it",
        )
    if missing:
        seen = ", ".join(participating) or "none of the region's marketplaces"
        return StoreCheck(
            name,
            CHECK_PROBLEM,
            MARKETPLACE_MISMATCH,
            f"not participating in {', '.join(missing)} (participating: {seen})",
            hint=f"if the seller left {', '.join(missing)}, renew the store with the marketplaces "
            f"it sells in: soldscope connect {name} --marketplace CC"
            + (" --refresh-token-stdin" if record.self_authorized else ""),
            request_id=response.request_id,
            participating=tuple(participating),
            added=tuple(added) if record.region_wide else (),
        )
    return StoreCheck(
        name,
        CHECK_OK,
        request_id=response.request_id,
        participating=tuple(participating),
        added=tuple(added) if record.region_wide else (),
        message=f"seller now also sells in {', '.join(added)}"
        if added and record.region_wide
        else None,
    )


def _lwa_text(exc: LwaError) -> str:
    status = f"HTTP {exc.status}, " if exc.status is not None else ""
    detail = f": {exc.description}" if exc.description else ""
    return f"Login with Amazon did not answer the refresh ({status}{exc.code}){detail}"


# --- many stores ----------------------------------------------------------------------------------


@dataclass
class ValidateResult:
    """What a validation run found: rows as `list` shows them plus each store's check."""

    rows: list[StoreRow]
    checks: dict[str, StoreCheck]
    app_error: str | None = None

    @property
    def incomplete(self) -> list[str]:
        """Stores whose check could not complete (status unchanged)."""
        return sorted(n for n, c in self.checks.items() if c.outcome == CHECK_INCOMPLETE)

    @property
    def exit_code(self) -> ExitCode:
        """1 when a store is error/expired or the app was rejected, 3 when incomplete, else 0."""
        if self.app_error is not None or any(row.status.unhealthy for row in self.rows):
            return ExitCode.UNHEALTHY
        if self.incomplete:
            return ExitCode.INCOMPLETE
        return ExitCode.OK


ProgressCallback = Callable[[int, int, StoreCheck], None]


@dataclass
class _Recorder:
    """Writes each check and its event, keeping the in-memory states current for status diffs."""

    db: Database
    states: dict[str, StoreState]
    clock: Callable[[], datetime]
    source: str
    records: dict[str, StoreRecord] = field(default_factory=dict)

    def record(self, check: StoreCheck) -> None:
        record = self.records[check.store]
        now = self.clock()
        before = self.states.get(check.store) or StoreState()
        after = _next_state(before, check, now)
        old_status = build_row(record, before, now).status
        new_status = build_row(record, after, now).status
        with self.db.transaction() as tx:
            self.db.record_check(check.to_record(now, self.source), tx=tx)
            if new_status != old_status:
                detail: dict[str, Any] = {"from": old_status.value, "to": new_status.value}
                if check.code and check.outcome != CHECK_OK:
                    detail["code"] = check.code
                self.db.log_event("status_changed", now, check.store, detail, tx=tx)
            else:
                self.db.log_event("checked", now, check.store, {"outcome": check.outcome}, tx=tx)
        self.states[check.store] = after


def _next_state(state: StoreState, check: StoreCheck, now: datetime) -> StoreState:
    # Mirrors store.read_states: only ok and problem outcomes are conclusive.
    if check.outcome == CHECK_OK:
        return dataclasses.replace(state, problem=None, last_checked_at=now)
    if check.outcome == CHECK_PROBLEM:
        problem = Problem(check.code or "unknown", check.message or "", now, check.request_id)
        return dataclasses.replace(state, problem=problem, last_checked_at=now)
    return dataclasses.replace(state, last_checked_at=now)


def validate_stores(
    records: Sequence[StoreRecord],
    *,
    secrets: SecretStore,
    make_clients: Callable[[], HealthClients],
    db: Database,
    clock: Callable[[], datetime],
    concurrency: int = DEFAULT_CONCURRENCY,
    source: str = "validate",
    progress: ProgressCallback | None = None,
) -> ValidateResult:
    """Check the stores concurrently, record every outcome, and return the refreshed rows."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    # One read at a time, on this thread, before any worker starts: gnome-keyring-daemon has been
    # seen to crash under concurrent Secret Service reads.
    tokens = {record.name: secrets.get(token_key(record.name)) for record in records}
    names = [record.name for record in records]
    recorder = _Recorder(db, db.states(names), clock, source, {r.name: r for r in records})
    checks: dict[str, StoreCheck] = {}
    total = len(records)

    def finish(check: StoreCheck) -> None:
        checks[check.store] = check
        if progress is not None:
            progress(len(checks), total, check)

    for record in records:
        if not tokens[record.name]:
            check = missing_token(record)
            recorder.record(check)
            finish(check)
    to_check = [record for record in records if tokens[record.name]]
    app_error = _check_concurrently(to_check, tokens, make_clients, concurrency, recorder, finish)
    db.prune(clock())  # history past the retention, never what a status depends on
    now = clock()
    rows = [
        _with_note(row, checks.get(row.name)) for row in build_rows(records, recorder.states, now)
    ]
    return ValidateResult(rows=rows, checks=checks, app_error=app_error)


def _check_concurrently(
    records: Sequence[StoreRecord],
    tokens: Mapping[str, str | None],
    make_clients: Callable[[], HealthClients],
    concurrency: int,
    recorder: _Recorder,
    finish: Callable[[StoreCheck], None],
) -> str | None:
    """Run the checks on a pool; returns the app-level failure, if one stopped the run."""
    if not records:
        return None
    clients = make_clients()
    stop = threading.Event()
    app_error: str | None = None

    def work(record: StoreRecord) -> StoreCheck:
        if stop.is_set():
            return _skipped(record.name)
        token = tokens[record.name]
        assert token is not None  # only stores with a token are scheduled
        return check_store(record, token, clients)

    pool = ThreadPoolExecutor(
        max_workers=min(concurrency, len(records)), thread_name_prefix="soldscope-check"
    )
    try:
        futures: dict[Future[StoreCheck], StoreRecord] = {
            pool.submit(work, record): record for record in records
        }
        for future in as_completed(futures):
            record = futures[future]
            check = _skipped(record.name) if future.cancelled() else future.result()
            if check.outcome == CHECK_APP_ERROR and app_error is None:
                # Every store would fail the same way: stop, and blame the app, not the stores.
                app_error = check.message or check.code or "invalid_client"
                stop.set()
                for pending in futures:
                    pending.cancel()
            if check.outcome == CHECK_APP_ERROR or (app_error is None and check.outcome != SKIPPED):
                recorder.record(check)
            elif check.outcome != SKIPPED:
                # Finished after the app failure: keep statuses exactly as they were.
                check = _skipped(record.name)
            finish(check)
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    return app_error


def _skipped(name: str) -> StoreCheck:
    return StoreCheck(
        name,
        SKIPPED,
        message="not checked: Login with Amazon rejected the app's client credentials",
    )


def _with_note(row: StoreRow, check: StoreCheck | None) -> StoreRow:
    """Show what a check found that is not a status (incomplete, skipped, new marketplaces)."""
    if check is None or check.outcome in (CHECK_PROBLEM,) or not check.reason:
        return row
    if check.outcome == CHECK_OK and not check.added:
        return row
    return dataclasses.replace(row, note=check.reason)
