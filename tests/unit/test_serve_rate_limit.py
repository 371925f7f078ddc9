"""serve's rate limiter: a fixed cost per request and a bounded table, whatever the addresses."""

from __future__ import annotations

import time
from typing import Any

from soldscope_cli.web.guard import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_address_gets_its_limit_per_window() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, limit=3, window=60.0)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")
    clock.now += 61
    assert limiter.allow("a")


def test_the_table_stays_bounded_past_max_addresses() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for i in range(15_000):  # all within one window: none is idle yet
        limiter.allow(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) <= 10_000
    assert [limiter.allow("10.0.58.151") for _ in range(61)][-1] is False  # still limited


def test_a_request_costs_the_same_with_a_full_table() -> None:
    def cost(addresses: int) -> float:
        limiter = RateLimiter(clock=Clock())
        for i in range(addresses):
            limiter.allow(f"addr-{i}")
        started = time.perf_counter()
        for i in range(2000):
            limiter.allow(f"new-{i}")
        return time.perf_counter() - started

    small, full = cost(10), cost(12_000)
    assert full < small * 10 + 0.05, (small, full)


def test_past_the_requests_in_flight_the_guard_answers_a_logged_503_with_its_headers() -> None:
    import asyncio

    import httpx

    from soldscope_cli.web.guard import Guard

    release = asyncio.Event()

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    logged: list[str] = []
    guard = Guard(
        slow_app,
        allowed_hosts=frozenset({"testserver"}),
        trusted_proxies=[],
        limiter=RateLimiter(clock=Clock()),
        log=logged.append,
        agency=lambda: "Northwind Agency",
        max_in_flight=2,
    )

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=guard)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            held = [asyncio.create_task(http.get("/a")) for _ in range(2)]
            await asyncio.sleep(0.05)
            busy = await http.get("/b")
            release.set()
            return [busy, *await asyncio.gather(*held)]

    busy, *held = asyncio.run(scenario())
    assert [r.status_code for r in held] == [200, 200]
    assert busy.status_code == 503 and "Northwind Agency" in busy.text
    for header in ("strict-transport-security", "content-security-policy", "x-frame-options"):
        assert header in busy.headers
    assert any(line.endswith("GET /b 503") for line in logged), logged
