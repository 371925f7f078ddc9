"""What a check returns, what every check may use from the outside world, and bounded threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from soldscope_cli.db.interface import LocalFile, TeamDatabase
from soldscope_cli.fleet.paths import Paths

if TYPE_CHECKING:
    import httpx

    from soldscope_cli.fleet.config import Config
    from soldscope_cli.fleet.secrets import SecretStore
    from soldscope_cli.rotation.state import RotationState

T = TypeVar("T")

# Amazon is never waited on for long: each network step gives up after this many seconds, so the
# whole run (steps run side by side) stays within about ten seconds.
NETWORK_TIMEOUT_S = 3.0
SECRET_PROBE_TIMEOUT_S = 5.0
INTEGRITY_BUDGET_S = 5.0
# A backstop for anything that ignores its own timeout (getaddrinfo has none).
OVERALL_TIMEOUT_S = 8.0


class Level(StrEnum):
    """How a check came out, best first."""

    OK = "ok"
    SKIP = "skip"  # not run: --offline, or something it needs is broken (reported elsewhere)
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return list(Level).index(self)


@dataclass(frozen=True)
class CheckResult:
    """One line of `doctor`: what was checked, how it came out, and how to fix it."""

    id: str
    title: str
    status: Level
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The pinned --json shape (docs/doctor.md)."""
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
        }


def worst(levels: list[Level]) -> Level:
    """The most serious level (OK for none)."""
    return max(levels, key=lambda level: level.rank, default=Level.OK)


def default_resolver(host: str, port: int) -> list[str]:
    """The addresses getaddrinfo gives for host:port (TCP), in its order, without duplicates."""
    import socket

    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class AlertTarget:
    """One alert target as doctor sees it: its label (never its URL) and how it last went."""

    label: str
    understood: bool  # Apprise knows the URL's scheme and can parse it
    last_kind: str | None = None  # "ok" or "failed"; None: never sent to
    last_at: str | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class RotationFacts:
    """What doctor learnt: the rotation state, and how the queue answered (None: not asked)."""

    state: RotationState
    queue_error: str | None = None
    queue_fix: str | None = None
    queue_messages: int | None = None  # messages waiting, when the queue answered
    confirmed_at: datetime | None = None  # the last message of this app seen in the queue


@dataclass(frozen=True)
class DoctorInputs:
    """Everything the checks read from the machine; tests replace each part with a fake."""

    env: Mapping[str, str]
    paths: Paths
    clock: Callable[[], datetime]
    monotonic: Callable[[], float]
    open_secret_store: Callable[[str | None], SecretStore]  # given the config's backend
    make_http: Callable[[], httpx.Client]
    uid: int
    local_file: LocalFile  # the home's SQLite file, read-only (the engine's, from the context)
    open_team: Callable[[str, float], TeamDatabase]  # the team database at a URL, within a timeout
    offline: bool = False
    sandbox: bool = False
    resolver: Callable[[str, int], list[str]] = default_resolver
    proc_root: str = "/proc"
    network_timeout: float = NETWORK_TIMEOUT_S
    secret_timeout: float = SECRET_PROBE_TIMEOUT_S
    integrity_budget: float = INTEGRITY_BUDGET_S
    overall_timeout: float = OVERALL_TIMEOUT_S
    versions: Callable[[str], str] | None = None  # importlib.metadata.version unless replaced
    # The alert targets of this config (SOLDSCOPE_NOTIFY_URLS and [[notify]]); None: not checked.
    alert_targets: Callable[[Config], list[AlertTarget]] | None = None
    # The client secret's rotation (doctor/rotation.py), given whether to ask the queue; None
    # from it where no rotation queue is configured.
    rotation: Callable[[bool], RotationFacts | None] | None = None


class TimedOut(Exception):
    """A bounded call did not return in time (its thread is left to finish on its own)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds:g} s")
        self.seconds = seconds


@dataclass
class Outcome(Generic[T]):
    """What a bounded call produced: a value, or the exception it raised (TimedOut included)."""

    value: T | None = None
    error: BaseException | None = None


def start_bounded(call: Callable[[], T], name: str) -> Callable[[float], Outcome[T]]:
    """Start call on a daemon thread now; the returned function waits up to N seconds for it.

    Daemon threads, not an executor: a hung getaddrinfo or a keyring waiting for an unlock
    prompt must not keep the process alive after doctor has reported it.
    """
    box: Outcome[T] = Outcome()
    done = threading.Event()

    def target() -> None:
        try:
            box.value = call()
        except BaseException as exc:
            box.error = exc
        finally:
            done.set()

    threading.Thread(target=target, name=f"soldscope-doctor-{name}", daemon=True).start()

    def wait(seconds: float) -> Outcome[T]:
        if not done.wait(max(0.0, seconds)):
            return Outcome(error=TimedOut(seconds))
        return box

    return wait


def bounded(call: Callable[[], T], seconds: float, name: str) -> T:
    """Run call with a time limit; raises TimedOut or whatever call raised."""
    outcome = start_bounded(call, name)(seconds)
    if outcome.error is not None:
        raise outcome.error
    return outcome.value  # type: ignore[return-value]
