"""`sync` without the terminal: pick the stores, run their datasets concurrently, report results.

Each store runs on its own worker thread with its own database connection; a failing store never
stops the others. Failures are classified by checks/ exactly as validate classifies them; what
sync adds:
  * a 403 on a dataset is put to the Sellers API (what validate checks): shared, it is the store's
    lasting problem; not shared, the app lacks that dataset's role ("not authorized");
  * invalid_client stops every store, reported once;
  * anything transient is reported, the status untouched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from soldscope_cli.amazon.lwa import AppCredentialsRejected, GrantRejected, LwaError
from soldscope_cli.amazon.spapi import SpapiError, SpapiForbidden
from soldscope_cli.checks.failures import classify, missing_token, no_tokens_found
from soldscope_cli.checks.recording import CheckRecorder
from soldscope_cli.checks.result import reconnect_hint
from soldscope_cli.datasets import registry
from soldscope_cli.datasets.registry import NAMES as DATASET_NAMES
from soldscope_cli.db.interface import Database, StoreClaims
from soldscope_cli.db.model import StoreDeleted, StoreState
from soldscope_cli.errors import SoldscopeError, StorageError
from soldscope_cli.fleet.config import StoreRecord, format_time
from soldscope_cli.fleet.listing import build_row
from soldscope_cli.fleet.secrets import SecretStore, token_key
from soldscope_cli.status import FORBIDDEN, INVALID_GRANT, MISSING_TOKEN, Status
from soldscope_cli.sync.base import (
    DatasetFailed,
    DatasetJob,
    DatasetOutcome,
    Note,
    StopSignal,
    SyncClient,
    SyncStopped,
    log,
)

DatasetSync = Callable[[DatasetJob], DatasetOutcome]
DATASETS: Mapping[str, DatasetSync] = {d.name: d.sync for d in registry.DATASETS}
ClientFactory = Callable[[StoreRecord, str], SyncClient]

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"
BUSY = "busy"  # team mode: another worker has the store (not a failure)
NOT_AUTHORIZED = "not_authorized"
# A --since backfill that loaded what it could and left the rest for the next syncs.
PARTIAL = "partial"
INTERRUPTED = "interrupted"
INTERRUPTED_REASON = "interrupted (Ctrl-C)"


@dataclass(frozen=True)
class SyncOptions:
    """What to sync and how."""

    datasets: tuple[str, ...] = DATASET_NAMES
    since: datetime | None = None
    concurrency: int = 4
    options: Mapping[str, int] = field(default_factory=dict)  # the datasets' options, by key
    report_wait_s: float = 1800.0


@dataclass
class DatasetResult:
    """One dataset of one store."""

    dataset: str
    outcome: str = OK  # ok, failed, not_authorized, skipped
    rows_added: int = 0
    rows_updated: int = 0
    duration_s: float = 0.0
    error_code: str | None = None
    error: str | None = None
    request_id: str | None = None
    notes: list[Note] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The pinned --json shape of a dataset (docs/sync.md)."""
        return {
            "dataset": self.dataset,
            "outcome": self.outcome,
            "rows_added": self.rows_added,
            "rows_updated": self.rows_updated,
            "duration_s": round(self.duration_s, 3),
            "error": None
            if self.error is None
            else {"code": self.error_code, "message": self.error, "request_id": self.request_id},
            "notes": [n.text for n in self.notes],
        }


@dataclass
class StoreResult:
    """One store: skipped, or its datasets' results."""

    name: str
    outcome: str = OK  # ok, failed, skipped
    reason: str | None = None
    duration_s: float = 0.0
    datasets: list[DatasetResult] = field(default_factory=list)
    quota_wait_s: float = 0.0  # of duration_s: waiting for Amazon's rate-limit tokens

    @property
    def rows_added(self) -> int:
        return sum(d.rows_added for d in self.datasets)

    @property
    def rows_updated(self) -> int:
        return sum(d.rows_updated for d in self.datasets)

    def to_json(self) -> dict[str, Any]:
        """The pinned --json shape of a store (docs/sync.md)."""
        return {
            "name": self.name,
            "outcome": self.outcome,
            "reason": self.reason,
            "duration_s": round(self.duration_s, 3),
            "quota_wait_s": round(self.quota_wait_s, 3),
            "rows_added": self.rows_added,
            "rows_updated": self.rows_updated,
            "datasets": [d.to_json() for d in self.datasets],
        }


@dataclass
class SyncReport:
    """Everything one `sync` run did."""

    started_at: datetime
    finished_at: datetime
    stores: list[StoreResult]
    app_error: str | None = None
    # This machine could not store the data (full disk, read-only directory): exit 74.
    local_error: StorageError | None = None
    # Ctrl-C stopped the run: what finished is stored, the rest is for the next sync (exit 130).
    interrupted: bool = False
    # The stores as the run saw them and their states after it (each check it recorded applied):
    # what sync's alerts compare, without reading config.toml or the database again.
    records: list[StoreRecord] = field(default_factory=list)
    states: dict[str, StoreState] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            not self.interrupted
            and self.app_error is None
            and self.local_error is None
            and all(s.outcome in (OK, BUSY) for s in self.stores)
        )

    @property
    def partial(self) -> bool:
        """Nothing failed, but a --since backfill left work for the next syncs (exit 3)."""
        return (
            not self.ok
            and not self.interrupted
            and self.app_error is None
            and self.local_error is None
            and all(s.outcome in (OK, BUSY, PARTIAL) for s in self.stores)
        )

    def to_json(self) -> dict[str, Any]:
        """The pinned --json shape (docs/sync.md)."""
        return {
            "started_at": format_time(self.started_at),
            "finished_at": format_time(self.finished_at),
            "outcome": OK if self.ok else PARTIAL if self.partial else FAILED,
            "app_error": self.app_error,
            "stores": [s.to_json() for s in self.stores],
        }


class SyncObserver(Protocol):
    """Progress callbacks; called from worker threads."""

    def store_started(self, store: str) -> None: ...

    def progress(self, store: str, text: str) -> None: ...

    def store_finished(self, result: StoreResult) -> None: ...


class SilentObserver:
    """An observer that ignores everything."""

    def store_started(self, store: str) -> None:
        """Ignore."""

    def progress(self, store: str, text: str) -> None:
        """Ignore."""

    def store_finished(self, result: StoreResult) -> None:
        """Ignore."""


class QuotaWaits:
    """The rate limiter's waits (amazon.ratelimit.WaitObserver): shown live, added up per store."""

    # Shorter waits are the normal pace of a fast operation; showing them would only flicker.
    SHOW_FROM_S = 1.0

    def __init__(self, observer: SyncObserver | None = None) -> None:
        self.observer: SyncObserver = observer or SilentObserver()
        self._lock = threading.Lock()
        self._totals: dict[str, float] = {}
        self._shown: dict[str, str] = {}  # store → the progress text a wait replaced

    def waiting(self, store: str, operation: str, seconds: float) -> None:
        """Show the wait and its reason in the store's progress line."""
        log.info("%s: waiting %.1f s for Amazon's %s quota", store, seconds, operation)
        if seconds >= self.SHOW_FROM_S:
            self.observer.progress(store, f"waiting {seconds:.0f} s for Amazon's {operation} quota")

    def waited(self, store: str, operation: str, seconds: float) -> None:
        """Add the wait to the store's total; restore what the store was doing."""
        with self._lock:
            self._totals[store] = self._totals.get(store, 0.0) + seconds
            last = self._shown.get(store)
        if seconds >= self.SHOW_FROM_S and last is not None:
            self.observer.progress(store, last)

    def note_progress(self, store: str, text: str) -> None:
        """Remember what the store shows, to show it again after a wait."""
        with self._lock:
            self._shown[store] = text

    def total(self, store: str) -> float:
        """Seconds the store has waited for quota so far."""
        with self._lock:
            return self._totals.get(store, 0.0)


@dataclass
class SyncEnvironment:
    """The collaborators of a run."""

    db: Database
    secrets: SecretStore
    client_for: ClientFactory
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    monotonic: Callable[[], float] = time.monotonic
    observer: SyncObserver = field(default_factory=SilentObserver)
    # Set by Ctrl-C; the Amazon clients' sleeps should come from stop.sleeper so it cuts them short.
    stop: StopSignal = field(default_factory=StopSignal)
    on_interrupt: Callable[[], None] = lambda: None  # told once, when Ctrl-C is first pressed
    # The Amazon clients' rate limiter reports its waits here (pass it to amazon_clients).
    quota_waits: QuotaWaits = field(default_factory=QuotaWaits)
    # Team mode: stores are claimed one by one; None: the run holds the home's sync lock.
    claims: StoreClaims | None = None


def skip_reason(record: StoreRecord, status: Status, problem_code: str | None) -> str | None:
    """Why a store in error or expired is not synced, with the command that fixes it."""
    if status is Status.ERROR:
        code = f" ({problem_code})" if problem_code else ""
        if problem_code in (INVALID_GRANT, MISSING_TOKEN):
            return f"store in error{code}: {reconnect_hint(record)}"
        return (
            f"store in error{code}: fix the cause, then re-check: soldscope validate {record.name}"
        )
    if status is Status.EXPIRED:
        return f"authorization expired (365 days): {reconnect_hint(record)}"
    return None


def run_sync(
    records: Sequence[StoreRecord], options: SyncOptions, env: SyncEnvironment
) -> SyncReport:
    """Sync the given stores; never raises for a store's failure, only for local breakage."""
    started = env.clock()
    log.info("sync started: %d store(s), datasets %s", len(records), ", ".join(options.datasets))
    results: dict[str, StoreResult] = {}
    states = env.db.states([r.name for r in records])
    runnable: list[StoreRecord] = []
    for record in records:
        row = build_row(record, states.get(record.name), started)
        reason = skip_reason(record, row.status, row.problem.code if row.problem else None)
        if reason is not None:
            results[record.name] = StoreResult(record.name, SKIPPED, reason)
        else:
            runnable.append(record)
    # The secret store is read one token at a time, before any worker starts: gnome-keyring
    # crashes under concurrent reads. With claims (team mode) every worker would read the whole
    # fleet's tokens that way, so there only the first token found is read up front (enough to
    # tell a wrong backend from one store's missing token) and each worker reads the token of a
    # store once it has claimed it, one read at a time.
    tokens: dict[str, str] = {}
    for record in runnable:
        token = env.secrets.get(token_key(record.name))
        if token:
            tokens[record.name] = token
            if env.claims is not None:
                break
        else:
            results[record.name] = StoreResult(record.name, FAILED, missing_token(record).reason)
    if runnable and not tokens:
        # Not one token: the wrong backend or another home's keyring, not every store's problem.
        raise no_tokens_found(env.secrets, [r.name for r in runnable])
    for result in results.values():
        if result.outcome == SKIPPED:
            log.warning("%s: skipped: %s", result.name, result.reason)
        else:
            log.error("%s: %s", result.name, result.reason)
        env.observer.store_finished(result)
    app_stop = _AppStop(env.stop)
    recorder = CheckRecorder(env.db, records, states, env.clock, "sync")
    run = _Run(options, env, app_stop, recorder, started)
    to_run = [r for r in runnable if r.name not in results]
    for record in to_run:
        # Fixed now, while the stores are known to be live: a store deleted during the run keeps
        # this id, whose writes the database then refuses, instead of getting a fresh one.
        run.ids[record.name] = env.db.store_id(record.name)
    if to_run:
        workers = max(1, min(options.concurrency, len(to_run)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="soldscope-sync") as pool:
            futures = {r.name: pool.submit(_run_store, r, tokens.get(r.name), run) for r in to_run}
            for name, future in futures.items():
                try:
                    results[name] = future.result()
                except KeyboardInterrupt:
                    if env.stop.is_set():
                        raise  # a second Ctrl-C: stop waiting for the workers
                    # Every worker stops at its next page, batch or poll; the current batch is
                    # stored with its cursor or not at all (one transaction).
                    log.warning("sync interrupted: stopping")
                    env.stop.set()
                    env.on_interrupt()
                    results[name] = future.result()
    if not env.stop.is_set():
        try:
            env.db.prune(env.clock())  # history past the retention, never what a status needs
        except StorageError as exc:
            if exc.shared:
                raise
            # A session the server ended meanwhile (a restart): the next run prunes instead.
            log.warning("old history was not pruned this time: %s", exc.message)
    report = SyncReport(
        started_at=started,
        finished_at=env.clock(),
        stores=[results[r.name] for r in records],
        app_error=app_stop.message,
        local_error=app_stop.local,
        interrupted=env.stop.is_set(),
        records=list(records),
        states=recorder.snapshot(),
    )
    log.info(
        "sync finished: %s (%d store(s) ok of %d)",
        "ok" if report.ok else "with failures",
        sum(1 for s in report.stores if s.outcome == OK),
        len(report.stores),
    )
    return report


class _AppStop:
    """Set once by the first worker that finds a failure every store would share; read by all.

    Two such failures: the app's credentials rejected (message), or this machine unable to store
    anything (local: a full disk, a read-only data directory).
    """

    def __init__(self, interrupt: StopSignal) -> None:
        self._lock = threading.Lock()
        self._interrupt = interrupt
        self.message: str | None = None
        self.local: StorageError | None = None

    def set(self, message: str) -> bool:
        with self._lock:
            first = self.message is None
            if first:
                self.message = message
            return first

    def halt(self, error: StorageError) -> None:
        with self._lock:
            if self.local is None:
                self.local = error

    @property
    def stopped(self) -> bool:
        return self.message is not None or self.local is not None or self._interrupt.is_set()

    @property
    def why(self) -> str:
        if self._interrupt.is_set():
            return INTERRUPTED_REASON
        if self.local is not None:
            return self.local.subject
        return "the app's credentials were rejected"


class _StoreAborted(Exception):
    """Stop this store's remaining datasets."""


@dataclass(frozen=True)
class _Run:
    """What every store of one run shares."""

    options: SyncOptions
    env: SyncEnvironment
    app_stop: _AppStop
    recorder: CheckRecorder
    started: datetime
    # Each store's connection id, resolved once when the run starts and carried from there.
    ids: dict[str, int] = field(default_factory=dict)

    def ended_early(self, result: StoreResult, outcome: str, reason: str | None) -> StoreResult:
        """A store that ends before its first dataset, told to the observer like any other."""
        result.outcome = outcome
        result.reason = reason
        self.env.db.close()  # this pooled thread's connection, if it opened one
        self.env.observer.store_finished(result)
        return result


def _run_store(record: StoreRecord, refresh_token: str | None, run: _Run) -> StoreResult:
    env = run.env
    result = StoreResult(record.name)
    if run.app_stop.stopped:
        return run.ended_early(result, SKIPPED, f"not started: {run.app_stop.why}")
    if env.claims is None:
        assert refresh_token is not None  # read up front for every store without claims
        return _sync_store(record, refresh_token, run, result)
    store_id = run.ids[record.name]
    busy = env.claims.claim(store_id, run.started)
    if busy is not None:
        log.info("%s: %s", record.name, busy)
        return run.ended_early(result, BUSY, busy)
    try:
        token = refresh_token or _read_token(env, record.name)
        if token is None:
            reason = missing_token(record).reason
            log.error("%s: %s", record.name, reason)
            return run.ended_early(result, FAILED, reason)
        return _sync_store(record, token, run, result)
    finally:
        env.claims.release(store_id)


_TOKEN_READS = threading.Lock()


def _read_token(env: SyncEnvironment, name: str) -> str | None:
    """A claimed store's token, read by its worker, one read at a time across workers."""
    with _TOKEN_READS:
        return env.secrets.get(token_key(name))


def _sync_store(
    record: StoreRecord, refresh_token: str, run: _Run, result: StoreResult
) -> StoreResult:
    env, app_stop = run.env, run.app_stop
    began = env.monotonic()
    env.observer.store_started(record.name)
    try:
        client = env.client_for(record, refresh_token)
        worker = _StoreWorker(record, client, run, result)
        worker.run()
    except SyncStopped:
        # Ctrl-C while the worker was between datasets (e.g. probing a 403).
        result.outcome = FAILED
        result.reason = f"stopped: {INTERRUPTED_REASON}"
    except StoreDeleted:
        # `soldscope delete` removed it meanwhile: the database refused every write since.
        result.outcome = SKIPPED
        result.reason = "deleted while it was syncing; nothing more of it was stored"
        result.datasets = []
    except StorageError as exc:
        if exc.shared:
            # Every store would fail the same way: stop them all and report it once, after the
            # summary.
            app_stop.halt(exc)
            result.outcome = FAILED
            result.reason = f"stopped: {exc.message}"
        else:
            # One transaction of this store failed (a statement timeout): the others go on.
            log.error("%s: %s", record.name, exc.message)
            result.outcome = FAILED
            result.reason = exc.message
    except Exception as exc:
        # A bug or local failure in one store must not take the others down.
        log.exception("%s: unexpected failure", record.name)
        result.outcome = FAILED
        result.reason = f"unexpected {exc.__class__.__name__}: {exc}"
    finally:
        # Workers are pooled threads: close this thread's connection so the next store opens its
        # own, and none is left open when the pool ends.
        env.db.close()
    result.duration_s = env.monotonic() - began
    result.quota_wait_s = env.quota_waits.total(record.name)
    if result.outcome == OK and any(d.outcome == FAILED for d in result.datasets):
        result.outcome = FAILED
    elif result.outcome == OK and any(d.outcome == PARTIAL for d in result.datasets):
        result.outcome = PARTIAL
    env.observer.store_finished(result)
    return result


class _StoreWorker:
    """Runs one store's datasets in order and classifies their failures."""

    def __init__(
        self, record: StoreRecord, client: SyncClient, run: _Run, result: StoreResult
    ) -> None:
        self.record = record
        self.recorder = run.recorder
        self.client = client
        self.options = run.options
        self.env = run.env
        self.app_stop = run.app_stop
        self.result = result
        self.store_id = run.ids[record.name]
        self._sellers_ok: bool | None = None

    def run(self) -> None:
        for name in self.options.datasets:
            if self.app_stop.stopped:
                self.result.outcome = FAILED
                self.result.reason = self.result.reason or f"stopped: {self.app_stop.why}"
                return
            try:
                self.result.datasets.append(self._dataset(name))
            except _StoreAborted:
                return

    def _dataset(self, name: str) -> DatasetResult:
        env = self.env
        store = self.record.name
        job = DatasetJob(
            store=self.record,
            client=self.client,
            db=env.db,
            clock=env.clock,
            sleep=env.stop.sleeper(env.sleep),
            since=self.options.since,
            options=self.options.options,
            known_id=self.store_id,
            report_wait_s=self.options.report_wait_s,
            progress=lambda text: self._progress(text),
            stopping=env.stop.is_set,
            monotonic=env.monotonic,
        )
        result = DatasetResult(name)
        run_id = env.db.start_sync_run(store, name, env.clock(), store_id=self.store_id)
        began = env.monotonic()
        self._progress(name)
        aborted = False
        try:
            outcome = DATASETS[name](job)
            result.rows_added, result.rows_updated = outcome.rows_added, outcome.rows_updated
            result.notes = outcome.notes
            if outcome.left and self.options.since is not None:
                result.outcome = PARTIAL
        except GrantRejected as exc:
            # Classified and recorded as validate does, so `list` reads the same either way.
            check = classify(self.record, exc)
            self.recorder.record(check)
            self._fail(result, INVALID_GRANT, exc.message, exc.request_id)
            self.result.reason = check.reason
            aborted = True
        except AppCredentialsRejected as exc:
            if self.app_stop.set(exc.message):
                log.error("the app's LWA credentials were rejected: %s", exc.message)
            self.recorder.record(classify(self.record, exc))
            self._fail(result, exc.code, exc.message, exc.request_id)
            self.result.reason = "stopped: the app's credentials were rejected"
            aborted = True
        except LwaError as exc:
            self._fail(result, exc.code, exc.message, exc.request_id)
        except SpapiForbidden as exc:
            aborted = self._forbidden(result, exc)
        except SpapiError as exc:
            self._fail(result, exc.code, str(exc), exc.request_id)
        except DatasetFailed as exc:
            self._fail(result, exc.code, exc.message, exc.request_id)
        except StorageError as exc:
            if exc.shared:
                raise  # the whole run stops (see _sync_store)
            # The database refused this dataset's write (a statement timeout, a deadlock): the
            # dataset failed, its stored batches and cursor stay; the store's other datasets go on.
            self._fail(result, "database", exc.message, None)
        except SoldscopeError as exc:
            self._fail(result, exc.__class__.__name__, exc.message, None)
        except StoreDeleted:
            raise
        except SyncStopped:
            self._fail(result, INTERRUPTED, f"stopped: {INTERRUPTED_REASON}", None)
            self.result.reason = f"stopped: {INTERRUPTED_REASON}"
            aborted = True
        except Exception as exc:
            log.exception("%s %s: unexpected failure", store, name)
            self._fail(result, exc.__class__.__name__, f"unexpected error: {exc}", None)
        result.duration_s = env.monotonic() - began
        env.db.finish_sync_run(
            run_id,
            env.clock(),
            OK if result.outcome == PARTIAL else result.outcome,  # what it loaded is complete
            result.rows_added,
            result.rows_updated,
            result.error_code,
            result.error,
            result.request_id,
        )
        log.info(
            "%s %s: %s, %d added, %d updated in %.1f s",
            store,
            name,
            result.outcome,
            result.rows_added,
            result.rows_updated,
            result.duration_s,
        )
        if aborted:
            self.result.datasets.append(result)
            self.result.outcome = FAILED
            raise _StoreAborted
        return result

    def _progress(self, text: str) -> None:
        self.env.quota_waits.note_progress(self.record.name, text)
        self.env.observer.progress(self.record.name, text)

    def _fail(self, result: DatasetResult, code: str, message: str, request_id: str | None) -> None:
        result.outcome = FAILED
        result.error_code = code
        result.error = message
        result.request_id = request_id
        log.error(
            "%s %s failed: %s%s",
            self.record.name,
            result.dataset,
            message,
            f" [request id {request_id}]" if request_id else "",
        )

    def _forbidden(self, result: DatasetResult, exc: SpapiForbidden) -> bool:
        """A 403: ask the Sellers API (what validate checks) whether the store itself is refused."""
        if self._sellers_ok is None:
            try:
                self.client.get_marketplace_participations()
                self._sellers_ok = True
            except SpapiForbidden as probe:
                # The store itself refuses the app: the lasting problem validate would record.
                self._sellers_ok = False
                check = classify(self.record, probe)
                self.recorder.record(check)
                self.result.reason = check.reason
            except SpapiError as probe:
                # Cannot tell now; report the dataset's own error and leave the status alone.
                self._fail(
                    result,
                    exc.code,
                    f"{exc} (then {probe.code} checking the store)",
                    exc.request_id,
                )
                return False
        if self._sellers_ok:
            role = registry.BY_NAME[result.dataset].role
            result.outcome = NOT_AUTHORIZED
            result.error_code = exc.code
            role = registry.BY_NAME[result.dataset].role
            result.error = (
                f"the app is not authorized for {result.dataset} data of this store "
                f"({exc.operation}: HTTP 403 {exc.message}); add the "
                f"{f'{role} ' if role else ''}role to the app and have the seller authorize it "
                "again"
            )
            result.request_id = exc.request_id
            log.warning("%s %s: not authorized: %s", self.record.name, result.dataset, exc)
            return False
        self._fail(result, FORBIDDEN, str(exc), exc.request_id)
        return True
