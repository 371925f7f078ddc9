"""`soldscope connect` (consent) and `validate --reauthorize` through the CLI with a fake context."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import NOW
from tests.unit.test_health import CLIENT_SECRET, INVALID_GRANT, Seller, add, participation
from tests.unit.test_onboarding import (
    OTHER_SELLER,
    SELLER,
    SellerBrowser,
    World,
    make_world,
)

from soldscope_cli.fleet.secrets import token_key

URL_LINE = re.compile(r"^(https?://\S+/apps/authorize/consent\?\S+)$", re.MULTILINE)


def consent_link(world: World, timeout: float = 5.0) -> str:
    """The consent link as printed on stderr (waits for it: the command runs on another thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = URL_LINE.search(world.h.stderr)
        if found:
            return found.group(1)
        time.sleep(0.02)
    raise AssertionError(f"no consent link on stderr: {world.h.stderr!r}")


@dataclass
class Client:
    """The seller on a call: opens the printed link themselves (no browser is opened for them)."""

    world: World
    thread: threading.Thread | None = None
    error: list[BaseException] = field(default_factory=list)

    def start(self) -> None:
        def click() -> None:
            try:
                browser = self.world.browser
                browser.follow(browser.answer(consent_link(self.world)))
            except BaseException as exc:
                self.error.append(exc)

        self.thread = threading.Thread(target=click)
        self.thread.start()

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(10)
        assert not self.error, self.error


class LinkAnswerStdin(io.StringIO):
    """stdin holding the address the browser ended on, known only once the link is printed."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    def read(self, size: int | None = -1) -> str:
        return "\n" + self.world.browser.answer(consent_link(self.world)) + "\n"


def run(world: World, invoke: Callable[..., Any], *args: str) -> tuple[int, str, str]:
    result = invoke(world.h, *args)
    return result.exit_code, world.h.stdout, world.h.stderr


def run_clicked(world: World, invoke: Callable[..., Any], *args: str) -> tuple[int, str, str]:
    """Run without a terminal while the client opens the printed link."""
    for stream in (world.h.ctx.stdout, world.h.ctx.stderr):
        stream.seek(0)
        stream.truncate(0)
    client = Client(world)
    client.start()
    try:
        return run(world, invoke, *args)
    finally:
        client.join()


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def no_secrets(world: World, *texts: str) -> None:
    joined = "".join(texts)
    assert CLIENT_SECRET not in joined
    for token in world.amazon.issued:
        assert token not in joined
    for code, _ in world.amazon.exchanges:
        assert code not in joined


# --- connect --------------------------------------------------------------------------------------


def test_terminal_run_opens_the_browser_and_prints_the_result(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    world = make_world(tmp_path, tty=True)
    code, out, err = run(world, invoke, "connect", "acme-us", "--marketplace", "US")
    assert code == 0, err
    [opened] = world.browser.opened
    assert consent_link(world) == opened  # printed on a line of its own before opening
    assert "primary Seller Central user" in err and "Waiting up to 5:00" in err
    assert f"Connected acme-us (na: US) for seller {SELLER}; the token works." in err
    assert "acme-us" in out and "Active" in out
    no_secrets(world, out, err)


def test_no_terminal_never_opens_a_browser_but_still_waits(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    world = make_world(tmp_path)
    client = Client(world)
    client.start()
    code, _, err = run(world, invoke, "connect", "acme-us", "--marketplace", "US")
    client.join()
    assert code == 0, err
    assert world.browser.opened == []
    assert " left" not in err  # no countdown without a terminal
    assert world.h.secrets.get(token_key("acme-us")) == world.amazon.issued[0]


def test_no_browser_flag_in_a_terminal(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    world = make_world(tmp_path, tty=True)
    client = Client(world)
    client.start()
    code, _, err = run(world, invoke, "connect", "acme-us", "--marketplace", "US", "--no-browser")
    client.join()
    assert code == 0, err
    assert world.browser.opened == []


def test_terminal_countdown_is_erased_before_the_timeout_error(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    world = make_world(tmp_path, tty=True)
    world.browser.action = "ignore"
    code, _, err = run(world, invoke, "connect", "acme-us", "--marketplace", "US", "--timeout", "1")
    assert code == 1
    assert "\r0:01 left " in err
    # The countdown line is erased before the (wrapped, coloured) error is printed.
    assert err.rindex("\r\x1b[K") < err.index("error: no answer from Amazon within 1 s")
    assert "acme-us" not in world.h.ctx.config(reload=True).stores


def test_manual_reads_the_address_from_stdin(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    world = make_world(tmp_path)
    world.h.ctx.stdin = LinkAnswerStdin(world)
    code, _, err = run(world, invoke, "connect", "acme-us", "--marketplace", "US", "--manual")
    assert code == 0, err
    assert "Then paste the address the browser ends on" in err
    assert world.h.ctx.config(reload=True).stores["acme-us"].selling_partner_id == SELLER
    no_secrets(world, err)


def test_region_wide_result_says_so(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    world = make_world(tmp_path)
    world.browser.behaviour = Seller(payload=[participation("DE"), participation("FR")])
    code, out, err = run_clicked(world, invoke, "connect", "acme-eu", "--region", "eu")
    assert code == 0, err
    assert "Connected acme-eu (eu, region-wide: DE, FR)" in err
    assert "DE,FR" in out.replace(" ", "")


@pytest.mark.parametrize(
    ("action", "text"),
    [("cancel", "access_denied"), ("no_code", "no single spapi_oauth_code")],
)
def test_failures_are_one_line_and_exit_1(
    tmp_path: Path, invoke: Callable[..., Any], action: str, text: str
) -> None:
    world = make_world(tmp_path)
    world.browser.action = action
    code, out, err = run_clicked(world, invoke, "connect", "acme-us", "--marketplace", "US")
    assert code == 1 and text in error_line(err) and out == ""
    assert world.h.secrets.get(token_key("acme-us")) is None


def test_seller_conflicts_exit_2(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    world = make_world(tmp_path)
    world.h.add_store("acme", seller=SELLER)
    code, _, err = run_clicked(world, invoke, "connect", "acme-us", "--marketplace", "US")
    assert code == 2 and "already connected as 'acme'" in error_line(err)

    world.h.add_store("bolt-us", seller=OTHER_SELLER, token="Atzr|bolt-old-token")
    world.browser.seller = "A3THIRDSELLER"
    code, _, err = run_clicked(world, invoke, "connect", "bolt-us")
    assert code == 2 and f"but bolt-us is seller {OTHER_SELLER}" in error_line(err)
    code, _, err = run_clicked(world, invoke, "connect", "bolt-us", "--force")
    assert code == 0 and "Renewed bolt-us" in err


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--manual", "--port", "9000"], "--port and --manual exclude each other"),
        (["--selling-partner-id", "A1"], "--selling-partner-id is only for --refresh-token-stdin"),
        (
            ["--authorized-at", "2026-01-01", "--selling-partner-id", "A1"],
            "--selling-partner-id, --authorized-at are only",
        ),
        (["--refresh-token-stdin", "--manual"], "--manual is for the browser consent"),
        (["--refresh-token-stdin", "--force", "--timeout", "9"], "--timeout, --force are for"),
        (["--timeout", "0"], "--timeout"),
        (["--port", "70000"], "--port"),
    ],
)
def test_flag_combinations_are_usage_errors(
    tmp_path: Path, invoke: Callable[..., Any], args: list[str], text: str
) -> None:
    world = make_world(tmp_path, stdin="Atzr|token-value\n")
    result = invoke(world.h, "connect", "acme-us", "--marketplace", "US", *args)
    err = world.h.stderr + result.output  # Click reports option ranges itself
    assert result.exit_code == 2 and text in err, err
    assert world.amazon.requests == 0 and world.browser.opened == []


def test_manual_state_mismatch_exits_1(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    world = make_world(tmp_path, stdin="http://127.0.0.1:1/callback?state=x&spapi_oauth_code=y")
    code, _, err = run(world, invoke, "connect", "acme-us", "--marketplace", "US", "--manual")
    assert code == 1 and "state does not match" in error_line(err)


# --- validate --reauthorize and the offer ---------------------------------------------------------


@dataclass
class QueueBrowser(SellerBrowser):
    """Each consent is signed in as the next seller in line (one client after another)."""

    queue: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> bool:
        self.seller = self.queue.pop(0)
        return super().__call__(url)


def renewal_world(tmp_path: Path, **kw: Any) -> tuple[World, QueueBrowser]:
    world = make_world(tmp_path, **kw)
    browser = QueueBrowser(world.amazon)
    world.h.ctx.browser = browser
    world.browser = browser
    add(world.h, world.amazon, "acme-us", Seller(lwa_always=INVALID_GRANT), seller="A1ACME")
    add(world.h, world.amazon, "bolt-us", seller="A2BOLT", authorized_at=NOW - timedelta(days=350))
    add(world.h, world.amazon, "cora-us", seller="A3CORA", authorized_at=NOW - timedelta(days=5))
    browser.queue = ["A1ACME", "A2BOLT"]
    return world, browser


def test_reauthorize_without_a_terminal_is_a_usage_error_before_any_check(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    world, _ = renewal_world(tmp_path)
    code, _, err = run(world, invoke, "validate", "--reauthorize")
    assert code == 2 and "needs a terminal" in error_line(err)
    assert world.amazon.requests == 0


def test_reauthorize_renews_error_expired_and_expiring_stores_one_after_another(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    world, browser = renewal_world(tmp_path, tty=True)
    code, _, err = run(world, invoke, "validate", "--reauthorize")
    assert code == 0, err
    assert len(browser.opened) == 2 and browser.queue == []
    assert err.index("Renewing acme-us (1 of 2)") < err.index("Renewing bolt-us (2 of 2)")
    assert "Renewed 2 of 2 stores." in err
    stores = world.h.ctx.config(reload=True).stores
    assert stores["acme-us"].authorized_at == NOW and stores["bolt-us"].authorized_at == NOW
    assert stores["cora-us"].authorized_at == NOW - timedelta(days=5)
    kinds = [e["kind"] for e in world.h.ctx.database().events("acme-us")]
    assert kinds[0] == "reauthorized" and "status_changed" in kinds


def test_reauthorize_failure_continues_and_exits_1(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    world, browser = renewal_world(tmp_path, tty=True)
    browser.queue = ["A9WRONGSELLER", "A2BOLT"]
    code, _, err = run(world, invoke, "validate", "--reauthorize")
    assert code == 1
    assert "but acme-us is seller A1ACME" in err and "Renewing bolt-us (2 of 2)" in err
    assert "Renewed 1 of 2 stores; not renewed: acme-us." in err


def test_terminal_validate_never_asks_and_names_the_renewal_command(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    # Even a "y" waiting on stdin renews nothing: renewal is asked for with --reauthorize.
    world, browser = renewal_world(tmp_path, tty=True, stdin="y\n")
    code, _, err = run(world, invoke, "validate")
    assert "[y/N]" not in err
    assert (code, len(browser.opened)) == (1, 0)
    assert (
        "2 stores can be renewed now, one consent after another: "
        "soldscope validate --reauthorize acme-us bolt-us\n"
    ) in err


@pytest.mark.parametrize("args", [[], ["--json"]])
def test_no_offer_without_a_terminal_or_with_json(
    tmp_path: Path, invoke: Callable[..., Any], args: list[str]
) -> None:
    world, browser = renewal_world(tmp_path, tty=not args, stdin="y\n")
    if not args:
        world.h.ctx.stdin_tty = False  # a pipe on stdin: nobody to ask
    code, _, err = run(world, invoke, "validate", *args)
    assert code == 1 and "Renew" not in err and browser.opened == []
