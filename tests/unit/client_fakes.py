"""Fakes shared by the HTTP client tests: a clock whose sleep only moves time, fixed randomness."""

from __future__ import annotations

import json
import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.prerequisites import require

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    """Wall and monotonic time that only advance when told to, or when `sleep` is called."""

    def __init__(self, start: datetime = START) -> None:
        self._lock = threading.Lock()
        self._now = start
        self._mono = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        with self._lock:
            self.sleeps.append(seconds)
        self.advance(seconds)


class FrozenSleeps:
    """A sleep that records but does not move any clock (for reservation arithmetic)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)


class FixedRandom(random.Random):
    """random() always returns the same value, so jittered delays are predictable."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def models_dir() -> Path:
    """The shared SP-API models beside the checkout; without them the test skips (fails in CI)."""
    path = Path(__file__).resolve().parents[3] / "shared" / "spapi" / "models"
    require(
        path.is_dir(), f"SP-API models not found at {path} (expected ../shared beside the checkout)"
    )
    return path


def load_model(name: str) -> dict[str, Any]:
    """One OpenAPI model from the shared folder, parsed."""
    data: dict[str, Any] = json.loads((models_dir() / name).read_text(encoding="utf-8"))
    return data


def sandbox_response(model: str, path: str, method: str, status: str) -> Any:
    """The first static sandbox response body a model documents for an operation and status."""
    response = load_model(model)["paths"][path][method]["responses"][status]
    return response["x-amzn-api-sandbox"]["static"][0]["response"]
