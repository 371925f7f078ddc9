"""Rotating the client secret: request, wait for the message, prove, store, delete, record.

The order is the safety: the new secret is kept as pending in the secret store as soon as it is
read, proven with one real LWA refresh of a healthy store, only then stored as the app's secret
(the old one is never overwritten before), and its message deleted last. A run that finds a
pending secret finishes it first, so a process killed at any step is completed by the next one.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from soldscope_cli.errors import SoldscopeError, UnhealthyError
from soldscope_cli.fleet.config import format_time
from soldscope_cli.rotation.keeper import Pending, SecretKeeper, stored_time
from soldscope_cli.rotation.messages import NewSecret, SecretExpiry, parse_notification
from soldscope_cli.rotation.queue import QueueMessage

log = logging.getLogger(__name__)

# The events rotation writes (app-level: no store). `app rotation` and doctor read them back.
REQUESTED = "rotation_requested"
ROTATED = "secret_rotated"
FAILED = "rotation_failed"
EXPIRY_NOTICE = "secret_expiry_notice"
EVENT_KINDS = (REQUESTED, ROTATED, FAILED, EXPIRY_NOTICE)

OLD_SECRET_GRACE = timedelta(days=7)  # FACTS §3: the old secret works 7 days after a rotation
DEFAULT_WAIT_S = 600.0


class Queue(Protocol):
    """What rotation asks of the SQS queue (rotation/queue.py's SqsQueue)."""

    url: str

    def receive(self, wait_seconds: float) -> list[QueueMessage]: ...

    def release(self, message: QueueMessage) -> None: ...

    def delete(self, message: QueueMessage) -> None: ...


class Events(Protocol):
    """The event log, as rotation writes and reads it."""

    def log_event(
        self,
        kind: str,
        at: datetime,
        store: str | None = None,
        detail: dict[str, Any] | None = None,
        tx: Any = None,
    ) -> None: ...

    def last_app_events(
        self, kinds: Sequence[str]
    ) -> dict[str, tuple[datetime, dict[str, Any]]]: ...


class SecretRefused(UnhealthyError):
    """Login with Amazon refused the new secret: it is not stored, the old one stays."""


class RotationLost(UnhealthyError):
    """Amazon rotated the secret but its message did not arrive in time: the old one stays."""

    def __init__(self, message: str, hint: str, deadline: datetime) -> None:
        super().__init__(message, hint=hint)
        self.deadline = deadline


@dataclass(frozen=True)
class Outcome:
    """What a rotation run did."""

    result: str  # "rotated", "rotated_elsewhere", "none"
    requested: bool = False
    proven_with: str | None = None  # the store whose refresh proved the new secret
    expires_at: datetime | None = None
    old_expires_at: datetime | None = None
    at: datetime | None = None
    expiry_notice: SecretExpiry | None = None  # Amazon's latest expiry notice, when one came

    def as_json(self) -> dict[str, Any]:
        """The `--json` shape (never the secret)."""

        def text(value: datetime | None) -> str | None:
            return None if value is None else format_time(value)

        return {
            "result": self.result,
            "requested": self.requested,
            "proven_with": self.proven_with,
            "at": text(self.at),
            "expires_at": text(self.expires_at),
            "old_expires_at": text(self.old_expires_at),
        }


# Proves a secret with one real refresh; returns the store it used. SecretRefused when LWA says
# invalid_client, IncompleteError when LWA cannot be reached.
Prover = Callable[[str], str]


@dataclass
class Rotator:
    """One rotation run's collaborators."""

    client_id: str
    queue: Queue
    keeper: SecretKeeper
    prove: Prover
    request: Callable[[], None]  # rotateApplicationClientSecret
    events: Events
    clock: Callable[[], datetime]
    monotonic: Callable[[], float]

    # --- the whole rotation ----------------------------------------------------------------------

    def rotate(self, wait_s: float = DEFAULT_WAIT_S, *, started: datetime | None = None) -> Outcome:
        """Request a new secret, wait up to wait_s for its message, prove, store, delete.

        `started`: when the caller began waiting for the rotation lock; a rotation another host
        finished since then is not done again.
        """
        if started is not None:
            done = self.events.last_app_events([ROTATED]).get(ROTATED)
            if done is not None and done[0] >= started:
                return self._elsewhere(done)
        # What the queue already holds first: a secret a person rotated in the portal is taken
        # instead of asking for another (which would cut that one's life to 7 days).
        waiting = self.consume(0)
        if waiting.result == "rotated":
            return waiting
        now = self.clock()
        log.debug("rotation: requesting a new client secret")
        self.request()
        deadline = now + OLD_SECRET_GRACE
        self.events.log_event(REQUESTED, now, None, {"deadline": format_time(deadline)})
        log.debug("rotation: requested; waiting for the message")
        outcome = self._await_secret(wait_s, requested=True)
        if outcome is not None:
            return outcome
        failed_at = self.clock()
        self.events.log_event(
            FAILED, failed_at, None, {"reason": "lost", "deadline": format_time(deadline)}
        )
        raise RotationLost(
            f"Amazon rotated the client secret, but its message did not reach {self.queue.url} "
            f"within {wait_s:.0f} s; the stored secret stays, and Amazon stops accepting it by "
            f"{format_time(deadline)}",
            "check the queue's access policy and the app's notification preferences "
            "(docs/rotation.md), then run `soldscope app rotate` again before that date; a "
            "message that arrives later is taken by `soldscope app rotate` or `sync --watch`",
            deadline,
        )

    def _elsewhere(self, done: tuple[datetime, dict[str, Any]]) -> Outcome:
        detail = done[1]
        return Outcome(
            "rotated_elsewhere",
            at=done[0],
            expires_at=stored_time(detail.get("expires_at")),
            old_expires_at=stored_time(detail.get("old_expires_at")),
        )

    # --- taking messages -------------------------------------------------------------------------

    def consume(self, wait_s: float = 0.0) -> Outcome:
        """Take what the queue holds now (a secret rotated by a person, a late message, notices)."""
        resumed = self.finish_pending()
        if resumed is not None:
            return resumed
        outcome = self._await_secret(wait_s, requested=False)
        return outcome if outcome is not None else Outcome("none")

    def _await_secret(self, wait_s: float, *, requested: bool) -> Outcome | None:
        """Read the queue until a new secret of this app is stored or wait_s has passed.

        Messages that are not ours (another app sharing the queue, another kind) are left in the
        queue: made visible again when the run ends, so this run does not read them over and over.
        """
        end = self.monotonic() + wait_s
        notice: SecretExpiry | None = None
        foreign: list[QueueMessage] = []
        try:
            while True:
                # At least a second: only a long poll asks every SQS server (a short one samples
                # a few and can miss the one message there is).
                left = end - self.monotonic()
                for message in self.queue.receive(max(1.0, left)):
                    parsed = parse_notification(message.body)
                    if parsed is None or parsed.client_id != self.client_id:
                        foreign.append(message)
                    elif isinstance(parsed, SecretExpiry):
                        notice = parsed
                        self._noted(parsed)
                        self.queue.delete(message)
                    else:
                        taken = self._take(message, parsed, requested=requested)
                        if taken is not None:
                            return taken
                if self.monotonic() >= end:
                    return None if notice is None else Outcome("none", expiry_notice=notice)
        finally:
            # Best effort: a handle SQS no longer takes (the message became visible and was read
            # again) must not turn a stored secret into a failure; it reappears on its own.
            for message in foreign:
                with contextlib.suppress(SoldscopeError):
                    self.queue.release(message)

    def _noted(self, notice: SecretExpiry) -> None:
        detail = {"expires_at": _text(notice.expires_at), "reason": notice.reason}
        self.events.log_event(EXPIRY_NOTICE, self.clock(), None, detail)

    def _take(self, message: QueueMessage, parsed: NewSecret, *, requested: bool) -> Outcome | None:
        """Store a new secret from the queue; None when the message was stale (read on)."""
        if self._stale(parsed):
            # An older rotation's message (one a killed run had hidden, read again): storing it
            # would replace the newer secret with one that expires sooner.
            log.debug("rotation: a message of an older rotation, deleted")
            self.queue.delete(message)
            return None
        if self.keeper.current() == parsed.secret:
            # Stored by a run killed before it deleted the message: finish, do not rotate again.
            self.queue.delete(message)
            self.keeper.drop_pending()
            return self._recorded(parsed.expires_at, parsed.old_expires_at, requested, None)
        pending = self.keeper.hold(parsed, requested=requested, receipt=message.receipt)
        log.debug("rotation: new secret received and kept as pending")
        try:
            outcome = self._prove_and_store(pending)
        except SecretRefused:
            # A secret Amazon refuses is of no use to anyone: it leaves the queue with its copy.
            # Best effort: what SQS says about that must not hide the refusal.
            with contextlib.suppress(SoldscopeError):
                self.queue.delete(message)
            raise
        except BaseException:
            # Not now (LWA unreachable, interrupted): the message is read again later (on its
            # own once its visibility ends, if SQS does not take it back now).
            with contextlib.suppress(SoldscopeError):
                self.queue.release(message)
            raise
        self.queue.delete(message)
        log.debug("rotation: message deleted")
        self.keeper.drop_pending()
        return outcome

    def _stale(self, parsed: NewSecret) -> bool:
        rotated = self.events.last_app_events([ROTATED]).get(ROTATED)
        newest = stored_time(rotated[1].get("expires_at")) if rotated else None
        return (
            newest is not None
            and parsed.expires_at is not None
            and parsed.expires_at < newest
            and self.keeper.current() != parsed.secret
        )

    def finish_pending(self) -> Outcome | None:
        """Complete a rotation an earlier run left pending (proven or not); None if there is none."""
        pending = self.keeper.pending()
        if pending is None:
            return None
        if self.keeper.current() == pending.secret:
            outcome = self._recorded(
                pending.expires_at, pending.old_expires_at, pending.requested, None
            )
        else:
            try:
                outcome = self._prove_and_store(pending)
            except SecretRefused:
                # Refused again: the message goes too, or the next run would read it, be
                # refused and alert a second time.
                self._delete_taken(pending)
                raise
        self._delete_taken(pending)
        self.keeper.drop_pending()
        return outcome

    def _delete_taken(self, pending: Pending) -> None:
        """Delete the message a killed run had taken. If the handle no longer works, the message
        comes back: a stored secret is recognised as stored, a refused one is refused again."""
        if pending.receipt:
            with contextlib.suppress(SoldscopeError):
                self.queue.delete(QueueMessage("", pending.receipt))

    def _recorded(
        self,
        expires_at: datetime | None,
        old_expires_at: datetime | None,
        requested: bool,
        store: str | None,
    ) -> Outcome:
        """A secret found stored already: its event, written now if the run that stored it was
        killed before writing it."""
        rotated = self.events.last_app_events([ROTATED]).get(ROTATED)
        if rotated is not None and stored_time(rotated[1].get("expires_at")) == expires_at:
            return Outcome("rotated", requested, store, expires_at, old_expires_at, rotated[0])
        now = self.clock()
        self._record(now, expires_at, old_expires_at, requested, store)
        return Outcome("rotated", requested, store, expires_at, old_expires_at, now)

    def _record(
        self,
        now: datetime,
        expires_at: datetime | None,
        old_expires_at: datetime | None,
        requested: bool,
        store: str | None,
    ) -> None:
        detail = {
            "expires_at": _text(expires_at),
            "old_expires_at": _text(old_expires_at),
            "requested": requested,
            "proven_with": store,
        }
        self.events.log_event(ROTATED, now, None, detail)

    def _prove_and_store(self, pending: Pending) -> Outcome:
        try:
            store = self.prove(pending.secret)
        except SecretRefused:
            self.keeper.drop_pending()
            self.events.log_event(FAILED, self.clock(), None, {"reason": "refused"})
            raise
        log.debug("rotation: new secret proven with %s", store)
        now = self.clock()
        self.keeper.commit(pending.secret, now)
        self._record(now, pending.expires_at, pending.old_expires_at, pending.requested, store)
        log.debug("rotation: new secret stored")
        return Outcome(
            "rotated", pending.requested, store, pending.expires_at, pending.old_expires_at, now
        )


def _text(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)
