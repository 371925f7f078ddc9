"""Checking many stores at once: concurrency, recording each outcome, the refreshed rows."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime

from soldscope_cli.checks import DEFAULT_CONCURRENCY
from soldscope_cli.checks.failures import missing_token, no_tokens_found
from soldscope_cli.checks.live import HealthClients, check_store
from soldscope_cli.checks.recording import CheckRecorder
from soldscope_cli.checks.result import StoreCheck
from soldscope_cli.db.interface import Database
from soldscope_cli.db.model import (
    CHECK_APP_ERROR,
    CHECK_INCOMPLETE,
    CHECK_OK,
    CHECK_PROBLEM,
)
from soldscope_cli.fleet.config import StoreRecord, select_stores
from soldscope_cli.fleet.listing import StoreRow, build_rows
from soldscope_cli.fleet.secrets import BATCH_SIZE, SecretStore, read_many, token_key
from soldscope_cli.services import Services

# Not a database outcome: the check never ran because the app's credentials were rejected first.
SKIPPED = "skipped"


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


ProgressCallback = Callable[[int, int, StoreCheck], None]


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
    """Check the stores concurrently, record every outcome, and return the refreshed rows.

    SecretStoreError when no store's token is in the secret store: that is a setup mistake (the
    wrong backend, another home's keyring), recorded nowhere, never every store's problem.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    names = [record.name for record in records]
    recorder = CheckRecorder(db, records, db.states(names), clock, source)
    checks: dict[str, StoreCheck] = {}
    total = len(records)

    def finish(check: StoreCheck) -> None:
        checks[check.store] = check
        if progress is not None:
            progress(len(checks), total, check)

    app_error: str | None = None
    if records:
        # Before any secret is read or anything written: missing app credentials stop here.
        clients = make_clients()
        missing, app_error = _check_concurrently(
            records, secrets, clients, concurrency, recorder, finish
        )
        if len(missing) == len(records):
            raise no_tokens_found(secrets, names)
        for record in missing:
            check = missing_token(record)
            recorder.record(check)
            finish(check)
        db.prune(clock())  # history past the retention, never what a status depends on
    now = clock()
    rows = [
        _with_note(row, checks.get(row.name)) for row in build_rows(records, recorder.states, now)
    ]
    return ValidateResult(rows=rows, checks=checks, app_error=app_error)


def _check_concurrently(
    records: Sequence[StoreRecord],
    secrets: SecretStore,
    clients: HealthClients,
    concurrency: int,
    recorder: CheckRecorder,
    finish: Callable[[StoreCheck], None],
) -> tuple[list[StoreRecord], str | None]:
    """Check the stores on a pool; returns those without a token, and the app-level failure.

    This thread reads the tokens in batches (read_many: a Secret Service answers a batch on one
    connection, where a read of its own costs about 17 ms), never concurrently (gnome-keyring-daemon
    crashes under concurrent Secret Service reads). The first batch is small and every batch's
    checks start as soon as it is read, so the reads overlap the checks instead of delaying them
    all. Results are recorded on this thread too, between batches.
    """
    stop = threading.Event()
    app_error: str | None = None
    missing: list[StoreRecord] = []
    owner: dict[Future[StoreCheck], StoreRecord] = {}
    pending: set[Future[StoreCheck]] = set()

    def work(record: StoreRecord, token: str) -> StoreCheck:
        if stop.is_set():
            return _skipped(record.name)
        return check_store(record, token, clients)

    def handle(future: Future[StoreCheck]) -> None:
        nonlocal app_error
        pending.discard(future)
        record = owner[future]
        check = _skipped(record.name) if future.cancelled() else future.result()
        if check.outcome == CHECK_APP_ERROR and app_error is None:
            # Every store would fail the same way: stop, and blame the app, not the stores.
            app_error = check.message or check.code or "invalid_client"
            stop.set()
            for other in pending:
                other.cancel()
        if check.outcome == CHECK_APP_ERROR or (app_error is None and check.outcome != SKIPPED):
            recorder.record(check)
        elif check.outcome != SKIPPED:
            # Finished after the app failure: keep statuses exactly as they were.
            check = _skipped(record.name)
        finish(check)

    pool = ThreadPoolExecutor(
        max_workers=min(concurrency, len(records)), thread_name_prefix="soldscope-check"
    )
    try:
        start = 0
        while start < len(records):
            if app_error is not None:
                for unread in records[start:]:
                    finish(_skipped(unread.name))
                break
            # The first batch is small so that the checks start at once.
            size = min(concurrency, BATCH_SIZE) if start == 0 else BATCH_SIZE
            batch = records[start : start + size]
            start += len(batch)
            tokens = read_many(secrets, [token_key(record.name) for record in batch])
            for record in batch:
                token = tokens[token_key(record.name)]
                if token:
                    future = pool.submit(work, record, token)
                    owner[future] = record
                    pending.add(future)
                else:
                    missing.append(record)
            for future in [f for f in pending if f.done()]:
                handle(future)
        for future in as_completed(list(pending)):
            handle(future)
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    return missing, app_error


def _skipped(name: str) -> StoreCheck:
    return StoreCheck(
        name,
        SKIPPED,
        message="not checked: Login with Amazon rejected the app's client credentials",
    )


def _with_note(row: StoreRow, check: StoreCheck | None) -> StoreRow:
    """Show what a check found that is not a status (incomplete, skipped, new marketplaces)."""
    if check is None or check.outcome in (CHECK_PROBLEM, CHECK_APP_ERROR, SKIPPED):
        return row  # a problem has its own cell; the app's rejection is said once, not per row
    if not check.reason:
        return row
    if check.outcome == CHECK_OK and not check.added:
        return row
    return dataclasses.replace(row, note=check.reason)


def run_validate(
    ctx: Services,
    names: list[str],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: ProgressCallback | None = None,
) -> ValidateResult:
    """Check the named stores (all by default) and return rows plus each store's check."""
    return validate_stores(
        select_stores(ctx.config(), names),
        secrets=ctx.secret_store(),
        make_clients=ctx.amazon_clients,
        db=ctx.database(),
        clock=ctx.clock,
        concurrency=concurrency,
        progress=progress,
    )
