"""A rotation run built from the outside world (`Services`): the app, the queue, the prover, the lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from soldscope_cli.amazon.application import not_enrolled, rotate_client_secret
from soldscope_cli.amazon.clients import AmazonClients
from soldscope_cli.amazon.lwa import (
    AppCredentialsRejected,
    GrantRejected,
    LwaClient,
    LwaError,
    LwaTransient,
)
from soldscope_cli.amazon.spapi import SpapiBadRequest, SpapiForbidden
from soldscope_cli.db.interface import Database
from soldscope_cli.errors import IncompleteError, LockHeldError
from soldscope_cli.fleet.app_credentials import CLIENT_SECRET_ENV, resolve_app
from soldscope_cli.fleet.locks import private_lock
from soldscope_cli.fleet.secrets import token_key
from soldscope_cli.rotation.flow import (
    DEFAULT_WAIT_S,
    EVENT_KINDS,
    Outcome,
    Rotator,
    SecretRefused,
)
from soldscope_cli.rotation.keeper import SecretKeeper
from soldscope_cli.rotation.queue import RotationSetupError, SqsQueue, require_queue_url
from soldscope_cli.rotation.state import RotationState, rotation_state
from soldscope_cli.services import Services

# The rotation lock's id among the team database's advisory locks (store claims use store ids,
# which are positive): one host of a team rotates at a time.
ROTATION_LOCK_ID = -1
LOCK_POLL_S = 1.0


@dataclass(frozen=True)
class Candidate:
    """A healthy store whose refresh token can prove a secret."""

    name: str
    refresh_token: str


def healthy_stores(services: Services) -> list[Candidate]:
    """Stores with no recorded problem and a stored refresh token, in name order."""
    config = services.config()
    names = sorted(config.stores)
    states = services.database().states(names) if names else {}
    store = services.secret_store()
    found: list[Candidate] = []
    for name in names:
        state = states.get(name)
        if state is not None and state.problem is not None:
            continue
        token = store.get(token_key(name))
        if token:
            found.append(Candidate(name, token))
    return found


def make_prover(
    services: Services, clients: AmazonClients, client_id: str, candidates: list[Candidate]
) -> Callable[[str], str]:
    """A prover: one refresh of the first healthy store that answers, with the new secret."""

    def prove(secret: str) -> str:
        lwa = LwaClient(
            clients.http,
            clients.endpoints.lwa_url,
            client_id,
            secret,
            clock=services.clock,
            retry=clients.retry,
            sleep=services.sleep,
        )
        for candidate in candidates:
            try:
                lwa.access_token(candidate.refresh_token)
            except GrantRejected:
                continue  # that store's grant, not the secret: try the next store
            except AppCredentialsRejected as exc:
                raise SecretRefused(
                    f"Login with Amazon refused the new client secret ({exc.code}); it was not "
                    "stored, and the current secret stays",
                    hint="check that [app] client_id is this app's, then run "
                    "`soldscope app rotate` again, or rotate in Solution Provider Portal and run "
                    "`soldscope app set --client-secret-stdin`",
                ) from exc
            except LwaTransient as exc:
                raise IncompleteError(
                    f"Login with Amazon could not be reached to prove the new secret ({exc.code})",
                    hint="the new secret is kept as pending: run `soldscope app rotate` again "
                    "once Amazon answers",
                ) from exc
            except LwaError as exc:
                raise SecretRefused(
                    f"Login with Amazon refused the proof of the new secret ({exc.code})",
                    hint="run `soldscope app rotate` again",
                ) from exc
            return candidate.name
        raise RotationSetupError(
            "no healthy store could prove the new secret (every refresh was refused)",
            hint="renew a store (`soldscope connect NAME`), then run `soldscope app rotate`",
        )

    return prove


def request_rotation(clients: AmazonClients) -> None:
    """rotateApplicationClientSecret, its failures turned into setup or unreachable errors."""
    try:
        rotate_client_secret(clients)
    except SpapiBadRequest as exc:
        if not_enrolled(exc):
            raise RotationSetupError(
                "Amazon answered that the app is not enrolled for rotation notification",
                hint="in Solution Provider Portal, register the SQS queue in the app's "
                "notification preferences (docs/rotation.md), then run `soldscope app rotate`",
            ) from exc
        raise
    except SpapiForbidden as exc:
        raise RotationSetupError(
            "Amazon refused the rotation request (403)",
            hint="rotation works for published and draft apps, not sandbox apps; check the "
            "app's LWA client id and secret (`soldscope app show`)",
        ) from exc
    # Anything else keeps its kind: 5xx, 429 and timeouts are "unreachable" (exit 3), a
    # rejected current secret is the app's credentials (exit 1).


def build_rotator(services: Services, *, need_healthy: bool = True) -> Rotator:
    """Everything a rotation needs, checked before anything is asked of Amazon."""
    config = services.config()
    creds = resolve_app(config.app, services.env, services.secret_store)
    creds.require()
    if CLIENT_SECRET_ENV in creds.sources.get("client_secret", ""):
        raise RotationSetupError(
            f"the client secret comes from {CLIENT_SECRET_ENV}, where rotation cannot store a "
            "new one",
            hint=f"store it with `soldscope app set --client-secret-stdin` and unset "
            f"{CLIENT_SECRET_ENV}",
        )
    assert creds.client_id is not None  # by require()
    url = require_queue_url(config.rotation.queue_url, services.env)
    queue = SqsQueue(url, services.env)
    clients = services.amazon_clients()
    candidates = healthy_stores(services)
    if need_healthy and not candidates:
        raise RotationSetupError(
            "no healthy store to prove a new client secret with",
            hint="connect a store (or renew one in error) first: `soldscope connect NAME`",
        )
    db = services.database()
    return Rotator(
        client_id=creds.client_id,
        queue=queue,
        keeper=SecretKeeper(services.secret_store, services.config_file, db.registry),
        prove=make_prover(services, clients, creds.client_id, candidates),
        request=lambda: request_rotation(clients),
        events=db,
        clock=services.clock,
        monotonic=services.monotonic,
    )


@contextmanager
def rotation_lock(services: Services, db: Database, wait_s: float) -> Iterator[datetime]:
    """One rotation at a time: the home's lock file, or in team mode an advisory lock every host
    of the team database shares. Yields when waiting began (a rotation finished since then by the
    holder is not done again); LockHeldError when it is still held after wait_s."""
    started = services.clock()
    claims = db.claims()
    if claims is None:
        lock = private_lock(services.paths.data_dir / "rotation.lock", timeout=wait_s)
        import filelock

        try:
            lock.acquire()
        except filelock.Timeout as exc:
            raise _busy() from exc
        try:
            yield started
        finally:
            lock.release()
        return
    try:
        end = services.monotonic() + wait_s
        while claims.claim(ROTATION_LOCK_ID, started) is not None:
            if services.monotonic() >= end:
                raise _busy()
            services.sleep(LOCK_POLL_S)
        try:
            yield started
        finally:
            claims.release(ROTATION_LOCK_ID)
    finally:
        claims.close()


def _busy() -> LockHeldError:
    return LockHeldError(
        "another soldscope is rotating the client secret",
        hint="wait for it to finish, then run `soldscope app rotation` to see the result",
    )


def current_state(services: Services) -> RotationState:
    """The rotation state of this home (or team), as `app rotation` and doctor show it."""
    from soldscope_cli.rotation.queue import queue_url

    config = services.config()
    db = services.database()
    events = db.last_app_events(EVENT_KINDS)
    keeper = SecretKeeper(services.secret_store, services.config_file, db.registry)
    return rotation_state(
        config.app.client_secret_set_at,
        events,
        queue_url=queue_url(config.rotation.queue_url, services.env),
        days_before=config.rotation.days_before,
        pending_secret=keeper.pending() is not None,
    )


def run_rotate(services: Services, wait_s: float) -> Outcome:
    """`soldscope app rotate`: one rotation, under the rotation lock."""
    rotator = build_rotator(services)
    with rotation_lock(services, services.database(), wait_s) as started:
        return rotator.rotate(wait_s, started=started)


def run_auto(services: Services, wait_s: float = DEFAULT_WAIT_S) -> Outcome | None:
    """Automatic rotation (`sync --watch`, `serve`): take what the queue holds, and rotate when
    Amazon's expiry notice came or the secret is within [rotation] days_before of expiring.

    None when no queue is configured, or another process is rotating. A rotation requested
    earlier and not resolved is not requested again: a person looks at it (doctor fails).
    """
    config = services.config()
    from soldscope_cli.rotation.queue import queue_url

    if queue_url(config.rotation.queue_url, services.env) is None:
        return None
    rotator = build_rotator(services, need_healthy=False)
    try:
        with rotation_lock(services, services.database(), 0) as started:
            outcome = rotator.consume(0)
            if outcome.result == "rotated":
                return outcome
            state = current_state(services)
            if state.problem is not None:
                return outcome
            if outcome.expiry_notice is None and not state.due(services.clock()):
                return outcome
            if not healthy_stores(services):
                return outcome
            return rotator.rotate(wait_s, started=started)
    except LockHeldError:
        return None


def confirmed_at(services: Services) -> datetime | None:
    """When a rotation message of this app last came through the queue (enrollment's proof)."""
    from soldscope_cli.rotation.flow import EXPIRY_NOTICE, ROTATED

    events = services.database().last_app_events([ROTATED, EXPIRY_NOTICE])
    return max((at for at, _ in events.values()), default=None)
