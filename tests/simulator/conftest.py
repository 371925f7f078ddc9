"""Fixtures for the simulator tests: a small scenario served on loopback with a manual clock."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from soldscope_cli.simulator import ManualClock, Simulator, parse_scenario

from .support import scenario_data

# Building a verifying context costs ~50 ms; the tests only speak plain HTTP on loopback, so one
# shared context keeps each test's client cheap.
_TLS_CONTEXT = ssl.create_default_context()


@pytest.fixture
def tls_context() -> ssl.SSLContext:
    return _TLS_CONTEXT


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[Simulator]:
    with Simulator(parse_scenario(scenario_data()), clock=clock, sleep=clock.sleep) as simulator:
        yield simulator


@pytest.fixture
def client(sim: Simulator, tls_context: ssl.SSLContext) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10, verify=tls_context) as http:
        yield http
