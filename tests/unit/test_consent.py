"""The consent listener on a real loopback socket, plus URL, state and paste parsing."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from soldscope_cli.amazon.endpoints import is_loopback_http
from soldscope_cli.consent.listener import (
    CODE_LIFETIME_SECONDS,
    MD_ERRORS,
    TICK_SECONDS,
    CallbackListener,
    ConsentDenied,
    ConsentError,
    ConsentResult,
    ConsentTimeout,
    MissingCode,
    StateMismatch,
    consent_url,
    explain_consent_error,
    new_state,
    parse_callback,
)
from soldscope_cli.errors import ExitCode, UnhealthyError, UsageError

CODE = "ANsecretAuthCode0123456789"
SELLER = "A3SELLER0EXAMPLE"
LABEL = "acme-us (North America)"


@pytest.fixture
def listener() -> Iterator[CallbackListener]:
    with CallbackListener(label=LABEL, connect_args="acme-us") as lst:
        yield lst


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0, follow_redirects=False) as client:
        yield client


def callback_url(lst: CallbackListener, **params: str) -> str:
    return f"{lst.redirect_uri()}?{urlencode(params)}"


def good_params(state: str) -> dict[str, str]:
    return {"spapi_oauth_code": CODE, "state": state, "selling_partner_id": SELLER}


def port_is_free(port: int) -> bool:
    # SO_REUSEADDR as the listener uses it: connections in TIME_WAIT do not count, a socket
    # still listening does.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
        return True


# --- the listener -----------------------------------------------------------------------------


def test_success_returns_code_and_answers_with_a_page_naming_the_store(
    listener: CallbackListener, browser: httpx.Client
) -> None:
    response = browser.get(callback_url(listener, **good_params(listener.state)))

    result = listener.wait(1.0)

    assert result == ConsentResult(
        code=CODE,
        state=listener.state,
        selling_partner_id=SELLER,
        raw_query=urlencode(good_params(listener.state)),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert LABEL in response.text and SELLER in response.text
    assert CODE not in response.text
    assert "<script" not in response.text and "src=" not in response.text
    assert port_is_free(listener.port)


def test_tampered_state_is_answered_but_does_not_end_the_wait(
    listener: CallbackListener, browser: httpx.Client
) -> None:
    forged = browser.get(callback_url(listener, **good_params(new_state(None))))
    assert forged.status_code == 400
    assert "another consent link" in forged.text
    assert listener.mismatched_callbacks == 1

    real = browser.get(callback_url(listener, **good_params(listener.state)))

    assert real.status_code == 200
    assert listener.wait(1.0).code == CODE


def test_timeout_reports_mismatched_callbacks_and_frees_the_port(
    listener: CallbackListener, browser: httpx.Client
) -> None:
    browser.get(callback_url(listener, **good_params("12345.forged")))
    browser.get(callback_url(listener, spapi_oauth_code=CODE, selling_partner_id=SELLER))

    with pytest.raises(ConsentTimeout) as caught:
        listener.wait(0.3)

    assert caught.value.mismatched == 2
    assert "ignored 2 answer(s) whose state did not match" in caught.value.message
    assert "soldscope connect acme-us --manual" in (caught.value.hint or "")
    assert caught.value.exit_code == ExitCode.UNHEALTHY
    assert port_is_free(listener.port)
    with pytest.raises(httpx.ConnectError):
        browser.get(callback_url(listener, **good_params(listener.state)))


def test_timeout_without_any_callback_does_not_mention_mismatches() -> None:
    with CallbackListener(label=LABEL) as lst, pytest.raises(ConsentTimeout) as caught:
        lst.wait(0.2)
    assert caught.value.mismatched == 0
    assert "state" not in caught.value.message


def test_error_with_the_right_state_ends_the_wait_and_explains_the_md_code(
    listener: CallbackListener, browser: httpx.Client
) -> None:
    response = browser.get(
        callback_url(
            listener,
            error="access_denied",
            error_description="Error code MD5101",
            state=listener.state,
        )
    )

    with pytest.raises(ConsentDenied) as caught:
        listener.wait(1.0)

    assert caught.value.error == "access_denied"
    assert caught.value.explanation == f"MD5101: {MD_ERRORS['MD5101']}"
    assert "access_denied (Error code MD5101)" in caught.value.message
    assert "OAuth Redirect URIs" in (caught.value.hint or "")
    assert response.status_code == 200
    assert "Amazon did not authorize the app" in response.text
    assert "OAuth Redirect URIs" in response.text
    assert port_is_free(listener.port)


def test_error_with_a_wrong_state_is_ignored(
    listener: CallbackListener, browser: httpx.Client
) -> None:
    browser.get(callback_url(listener, error="access_denied", state="999.nope"))
    with pytest.raises(ConsentTimeout):
        listener.wait(0.2)


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("spapi_oauth_code", "no single spapi_oauth_code"),
        ("selling_partner_id", "no selling_partner_id"),
    ],
)
def test_missing_code_or_seller_id_ends_the_wait(
    listener: CallbackListener, browser: httpx.Client, drop: str, message: str
) -> None:
    params = good_params(listener.state)
    del params[drop]
    response = browser.get(callback_url(listener, **params))

    with pytest.raises(MissingCode, match=message):
        listener.wait(1.0)
    assert "incomplete" in response.text


def test_second_callback_is_told_the_link_was_used_and_ignored(
    listener: CallbackListener, browser: httpx.Client
) -> None:
    first = browser.get(callback_url(listener, **good_params(listener.state)))
    other = {**good_params(listener.state), "spapi_oauth_code": "SECOND"}
    second = browser.get(callback_url(listener, **other))

    assert first.status_code == 200
    assert "already used" in second.text
    assert listener.wait(1.0).code == CODE


@pytest.mark.parametrize("path", ["/", "/callbackx", "/callback/extra", "/favicon.ico"])
def test_every_other_path_is_404(
    listener: CallbackListener, browser: httpx.Client, path: str
) -> None:
    query = urlencode(good_params(listener.state))
    response = browser.get(f"http://127.0.0.1:{listener.port}{path}?{query}")
    assert response.status_code == 404
    with pytest.raises(ConsentTimeout):
        listener.wait(0.1)


def test_head_and_post_do_not_use_up_the_callback(
    listener: CallbackListener, browser: httpx.Client
) -> None:
    url = callback_url(listener, **good_params(listener.state))
    assert browser.head(url).status_code == 405
    assert browser.post(url).status_code == 405
    browser.get(url)
    assert listener.wait(1.0).code == CODE


def test_other_host_headers_are_refused(listener: CallbackListener, browser: httpx.Client) -> None:
    url = callback_url(listener, **good_params(listener.state))
    assert browser.get(url, headers={"Host": "rebound.example"}).status_code == 421
    assert browser.get(url, headers={"Host": f"localhost:{listener.port}"}).status_code == 200
    assert listener.wait(1.0).selling_partner_id == SELLER


def test_ping_answers_204_to_cross_origin_probes(
    listener: CallbackListener, browser: httpx.Client
) -> None:
    url = f"http://127.0.0.1:{listener.port}/ping"
    ping = browser.get(url, headers={"Origin": "https://relay.example"})
    preflight = browser.options(
        url,
        headers={
            "Origin": "https://relay.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )

    assert ping.status_code == 204
    assert ping.headers["access-control-allow-origin"] == "*"
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-private-network"] == "true"
    assert browser.post(url).status_code == 405
    with pytest.raises(ConsentTimeout):
        listener.wait(0.1)


def test_extra_redirect_paths_are_served_once_handed_out(browser: httpx.Client) -> None:
    with CallbackListener(label=LABEL, callback_path="/cb") as lst:
        assert lst.redirect_uri() == f"http://127.0.0.1:{lst.port}/cb"
        other = lst.redirect_uri("/other")
        assert browser.get(f"{other}?state=x").status_code == 400
        relay = f"http://127.0.0.1:{lst.port}/callback"
        assert browser.get(f"{relay}?state=x").status_code == 400
        with pytest.raises(ValueError):
            lst.redirect_uri("/ping")


def test_on_tick_counts_down_once_per_tick(browser: httpx.Client) -> None:
    ticks: list[float] = []
    with CallbackListener(label=LABEL, tick_seconds=0.1) as lst:

        def tick(left: float) -> None:
            ticks.append(left)
            if len(ticks) == 3:
                browser.get(callback_url(lst, **good_params(lst.state)))

        result = lst.wait(30.0, on_tick=tick)

    assert result.code == CODE
    assert len(ticks) == 3
    assert 29.0 < ticks[0] <= 30.0
    assert all(0.05 < a - b < 0.5 for a, b in itertools.pairwise(ticks))
    assert TICK_SECONDS == 1.0  # the CLI's countdown relies on roughly one call a second


def test_ctrl_c_during_wait_propagates_and_frees_the_port(listener: CallbackListener) -> None:
    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        listener.wait(5.0, on_tick=interrupt)
    assert port_is_free(listener.port)


def test_injected_clock_decides_the_deadline() -> None:
    now = [1000.0]

    def clock() -> float:
        now[0] += 50.0
        return now[0]

    ticks: list[float] = []
    with (
        CallbackListener(label=LABEL, clock=clock, tick_seconds=0.01) as lst,
        pytest.raises(ConsentTimeout),
    ):
        lst.wait(CODE_LIFETIME_SECONDS, on_tick=ticks.append)
    assert ticks == [250.0, 200.0, 150.0, 100.0, 50.0]


def test_close_is_idempotent_and_frees_the_port() -> None:
    lst = CallbackListener(label=LABEL)
    lst.close()
    lst.close()
    assert port_is_free(lst.port)
    with pytest.raises(RuntimeError, match="closed"):
        lst.wait(1.0)


def test_a_given_port_is_used_and_a_busy_one_is_named() -> None:
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago, not a guessed neighbour
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with CallbackListener(label=LABEL, port=free_port) as given:
        assert given.port == free_port
    with CallbackListener(label=LABEL) as first, pytest.raises(UsageError) as caught:
        CallbackListener(label=LABEL, port=first.port)
    assert str(first.port) in caught.value.message
    assert "already in use" in caught.value.message
    with CallbackListener(label=LABEL, port=first.port) as again:
        assert again.port == first.port


@pytest.mark.parametrize("port", [-1, 65536])
def test_impossible_ports_are_usage_errors(port: int) -> None:
    with pytest.raises(UsageError, match=str(port)):
        CallbackListener(label=LABEL, port=port)


def test_state_carries_the_port_only_when_asked(listener: CallbackListener) -> None:
    assert "." not in listener.state
    with CallbackListener(label=LABEL, port_in_state=True) as relayed:
        assert relayed.state.startswith(f"{relayed.port}.")
    with CallbackListener(label=LABEL, state="given") as fixed:
        assert fixed.state == "given"


def test_nothing_secret_reaches_stdout_or_stderr(
    listener: CallbackListener, browser: httpx.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    browser.get(callback_url(listener, **good_params("1.forged")))
    browser.get(f"http://127.0.0.1:{listener.port}/nope?spapi_oauth_code={CODE}")
    browser.get(callback_url(listener, **good_params(listener.state)))
    result = listener.wait(1.0)

    out, err = capfd.readouterr()
    assert CODE not in out + err
    assert CODE not in repr(result)


# --- consent_url, new_state, is_loopback_http ---------------------------------------------------


def test_consent_url_encodes_every_parameter_and_adds_beta_for_drafts() -> None:
    redirect = "https://relay.example.com/soldscope/?x=1&y=a b"
    url = consent_url(
        "https://sellercentral.amazon.com/", "amzn1.sp.solution.1", "5.s+t", redirect, True
    )

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://sellercentral.amazon.com/apps/authorize/consent"
    )
    assert parse_qs(parts.query) == {
        "application_id": ["amzn1.sp.solution.1"],
        "state": ["5.s+t"],
        "redirect_uri": [redirect],
        "version": ["beta"],
    }
    assert "redirect_uri=https%3A%2F%2Frelay.example.com%2Fsoldscope%2F%3Fx%3D1%26y%3Da%20b" in url


def test_consent_url_for_a_published_app_has_no_version() -> None:
    url = consent_url("https://sellercentral-europe.amazon.com", "app", "s", "https://r/", False)
    assert "version" not in parse_qs(urlsplit(url).query)
    assert "redirect_uri=https%3A%2F%2Fr%2F" in url


def test_consent_url_refuses_a_fragment_in_the_redirect_uri() -> None:
    with pytest.raises(UsageError, match="MD5110"):
        consent_url("https://sellercentral.amazon.com", "app", "s", "https://r/#x", False)


def test_new_state_has_at_least_128_random_bits_and_an_optional_port() -> None:
    states = {new_state(None) for _ in range(500)}
    assert len(states) == 500
    for state in states:
        assert len(state) >= 22  # 22 base64url characters carry 132 bits
        assert "." not in state
    with_port = new_state(8765)
    port, _, token = with_port.partition(".")
    assert port == "8765" and len(token) >= 22 and "." not in token


@pytest.mark.parametrize("port", [0, 80, 1023, 65536])
def test_new_state_refuses_ports_the_relay_page_would_refuse(port: int) -> None:
    with pytest.raises(UsageError, match=str(port)):
        new_state(port)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://127.0.0.1:8765/callback", True),
        ("http://localhost:8765/cb", True),
        ("http://LOCALHOST/cb", True),
        ("http://[::1]:9000/callback", True),
        ("https://127.0.0.1:8765/callback", False),
        ("https://relay.example.com/soldscope/", False),
        ("http://127.0.0.1.evil.example/callback", False),
        ("http://localhost.evil.example/", False),
        ("http://evil.example/?u=http://127.0.0.1", False),
        ("http://127.0.0.1:notaport/", False),
        ("", False),
    ],
)
def test_is_loopback_http(uri: str, expected: bool) -> None:
    assert is_loopback_http(uri) is expected


# --- parse_callback ---------------------------------------------------------------------------

STATE = "41234.Zq3f0Y6u8kH2vQqJ0g1xS5bW7nR4cT9e"
QUERY = f"spapi_oauth_code={CODE}&state={STATE}&selling_partner_id={SELLER}"


@pytest.mark.parametrize(
    "pasted",
    [
        f"http://127.0.0.1:41234/callback?{QUERY}",
        f"https://relay.example.com/soldscope/relay/?{QUERY}",
        f"https://agency.example/amazon/return.html?{QUERY}#top",
        QUERY,
        f"?{QUERY}",
        f'  "http://127.0.0.1:41234/callback?{QUERY}"  \n',
        f"'https://relay.example.com/?{QUERY}'",
        f"<https://relay.example.com/?{QUERY}>",
        f"http://127.0.0.1:41234/callback?spapi_oauth_code={CODE}&\n  state={STATE}"
        f"&selling_partner_id={SELLER}",
        f"https://relay.example.com/?spapi_oauth_code={CODE}&amp;state={STATE}"
        f"&amp;selling_partner_id={SELLER}",
    ],
)
def test_parse_callback_accepts_every_form_a_user_pastes(pasted: str) -> None:
    result = parse_callback(pasted, STATE)
    assert (result.code, result.state, result.selling_partner_id) == (CODE, STATE, SELLER)


def test_parse_callback_decodes_percent_encoding() -> None:
    result = parse_callback(
        f"https://r.example/?spapi_oauth_code=a%2Bb%2F&state={STATE}&selling_partner_id={SELLER}",
        STATE,
    )
    assert result.code == "a+b/"


@pytest.mark.parametrize(
    ("pasted", "error", "fragment"),
    [
        (f"https://r/?spapi_oauth_code={CODE}&state=41234.other&selling_partner_id=A", StateMismatch, "does not match"),
        (f"https://r/?spapi_oauth_code={CODE}&selling_partner_id=A", StateMismatch, "no state"),
        (f"https://r/?{QUERY}&state={STATE}", StateMismatch, "does not match"),
        (f"https://r/?state={STATE}&selling_partner_id=A", MissingCode, "spapi_oauth_code"),
        (f"https://r/?state={STATE}&spapi_oauth_code=&selling_partner_id=A", MissingCode, "spapi_oauth_code"),
        (f"https://r/?state={STATE}&spapi_oauth_code=X", MissingCode, "selling_partner_id"),
        ("https://relay.example.com/", MissingCode, "has no spapi_oauth_code"),
        ("   ", MissingCode, "nothing was pasted"),
        (CODE, MissingCode, "has no spapi_oauth_code"),
        (f"https://r/?error=access_denied&state={STATE}", ConsentDenied, "access_denied"),
        ("https://r/?error=access_denied&error_description=MD1000", ConsentDenied, "MD1000"),
    ],
)  # fmt: skip
def test_parse_callback_raises_typed_errors_without_echoing_secrets(
    pasted: str, error: type[ConsentError], fragment: str
) -> None:
    with pytest.raises(error) as caught:
        parse_callback(pasted, STATE)
    assert isinstance(caught.value, UnhealthyError)
    assert caught.value.exit_code == ExitCode.UNHEALTHY
    assert fragment in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.hint
    assert CODE not in caught.value.message + caught.value.hint


def test_denial_text_from_the_url_is_flattened_and_bounded() -> None:
    nasty = "\x1b[31mred\x1b[0m\nsecond line " + "x" * 500
    with pytest.raises(ConsentDenied) as caught:
        parse_callback(
            f"?{urlencode({'error': 'server_error', 'error_description': nasty})}", STATE
        )
    assert "\x1b" not in caught.value.message and "\n" not in caught.value.message
    assert len(caught.value.message) < 300
    assert "try again in a few minutes" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MD1000", f"MD1000: {MD_ERRORS['MD1000']}"),
        ("an error occurred (md5110)", f"MD5110: {MD_ERRORS['MD5110']}"),
        ("Error MD9100", f"MD9100: {MD_ERRORS['MD9100']}"),
        ("MD4242", None),
        ("Invalid Access", "Invalid Access: only the seller's primary Seller Central user can "
         "authorize apps; ask the account owner to open the link"),
        ("access_denied", None),
    ],
)  # fmt: skip
def test_explain_consent_error(text: str, expected: str | None) -> None:
    assert explain_consent_error(text) == expected


def test_md_table_covers_the_documented_codes() -> None:
    assert {"MD1000", "MD5101", "MD5110", "MD9100"} <= MD_ERRORS.keys()
    assert "version=beta" in MD_ERRORS["MD1000"]


def test_a_callback_racing_close_is_safe() -> None:
    lst = CallbackListener(label=LABEL)
    url = callback_url(lst, **good_params(lst.state))
    errors: list[BaseException] = []

    def hit() -> None:
        try:
            httpx.get(url, timeout=1.0)
        except httpx.HTTPError:
            pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hit) for _ in range(5)]
    for thread in threads:
        thread.start()
    lst.close()
    for thread in threads:
        thread.join()
    assert errors == []
    assert port_is_free(lst.port)
