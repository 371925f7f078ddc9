"""The HTTPS relay page (docs/relay/index.html) running in a real headless Chromium."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest

from soldscope_cli.consent.listener import (
    MD_ERRORS,
    CallbackListener,
    ConsentDenied,
    ConsentResult,
    new_state,
    parse_callback,
)

if TYPE_CHECKING:
    from conftest import Chromium, RelayServer

RELAY_PAGE = Path(__file__).resolve().parents[2] / "docs" / "relay" / "index.html"
CODE = "ANrelayCode0123456789"
SELLER = "A2RELAYSELLER"
VOID = {"input", "meta", "br", "img", "link", "hr", "source", "wbr", "area", "base", "col"}


@dataclass
class Element:
    attrs: dict[str, str]
    text: str = ""

    @property
    def hidden(self) -> bool:
        return "hidden" in self.attrs


@dataclass
class _ById(HTMLParser):
    elements: dict[str, Element] = field(default_factory=dict)
    _open: list[tuple[str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        ident = values.get("id")
        if ident:
            self.elements[ident] = Element(values)
        if tag not in VOID:
            self._open.append((tag, ident))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, ident in self._open:
            if ident:
                self.elements[ident].text += data


def by_id(dom: str) -> dict[str, Element]:
    parser = _ById()
    parser.feed(dom)
    return parser.elements


def consent_query(state: str, **extra: str) -> str:
    return urlencode(
        {"spapi_oauth_code": CODE, "state": state, "selling_partner_id": SELLER, **extra}
    )


# Chromium's own background traffic (time, updates) is not the page's doing.
_CHROMIUM_SERVICES = re.compile(r"(^|\.)(google\.com|googleapis\.com|gstatic\.com)(:\d+)?$")


def only_relay_requests(server: RelayServer) -> None:
    seen = [(host, path) for host, path in server.seen if not _CHROMIUM_SERVICES.search(host)]
    assert {host for host, _ in seen} == {f"127.0.0.1:{server.port}"}, seen
    assert all(path.startswith("/relay/?") for _, path in seen), seen


# --- without a browser --------------------------------------------------------------------------


def _csp_hash(body: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()


def test_csp_hashes_match_the_inline_script_and_style() -> None:
    page = RELAY_PAGE.read_text(encoding="utf-8")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    assert csp and script and style
    policy = {part.split()[0]: part.split()[1:] for part in csp.group(1).split(";") if part.strip()}
    # After editing the page, put these values into its CSP meta tag.
    assert policy["script-src"] == [f"'{_csp_hash(script.group(1))}'"]
    assert policy["style-src"] == [f"'{_csp_hash(style.group(1))}'"]
    assert policy["default-src"] == ["'none'"]
    assert policy["connect-src"] == ["http://127.0.0.1:*"]


def test_page_is_self_contained_and_explains_every_md_code() -> None:
    page = RELAY_PAGE.read_text(encoding="utf-8")
    assert page.count("<script") == 1 and page.count("<style") == 1
    assert not re.search(r"<(link|img|iframe|object|embed)\b|\ssrc=|@import|url\(", page)
    for code in MD_ERRORS:
        assert f"{code}:" in page


# --- in Chromium --------------------------------------------------------------------------------


def test_relay_forwards_the_exact_query_to_the_listener(
    chromium: Chromium, relay_server: RelayServer
) -> None:
    with CallbackListener(label="acme-us (North America)", port_in_state=True) as listener:
        query = consent_query(listener.state)
        outcome: list[ConsentResult | BaseException] = []

        def wait() -> None:
            try:
                outcome.append(listener.wait(12.0))
            except BaseException as exc:
                outcome.append(exc)

        waiter = threading.Thread(target=wait)
        waiter.start()
        dom = chromium.dom_when(
            relay_server.url(query), "Return to the terminal", trap_port=relay_server.port
        )
        waiter.join()

    assert outcome == [ConsentResult(CODE, listener.state, SELLER, query)]
    assert "Return to the terminal" in dom and "acme-us (North America)" in dom
    only_relay_requests(relay_server)


def test_unreachable_listener_shows_the_callback_url_to_paste(
    chromium: Chromium, relay_server: RelayServer
) -> None:
    stopped = CallbackListener(label="gone", port_in_state=True)
    stopped.close()
    query = consent_query(stopped.state)

    elements = by_id(chromium.dump_dom(relay_server.url(query), trap_port=relay_server.port))

    expected = f"http://127.0.0.1:{stopped.port}/callback?{query}"
    assert not elements["paste"].hidden
    assert elements["callback-url"].attrs["value"] == expected
    assert "readonly" in elements["callback-url"].attrs
    assert elements["continue-link"].attrs["href"] == expected
    assert not elements["continue"].hidden
    assert "cannot reach soldscope" in elements["status"].text
    assert "5 minutes" in elements["paste"].text
    assert "soldscope connect NAME --manual" in elements["paste"].text
    assert elements["problem"].hidden
    pasted = parse_callback(elements["callback-url"].attrs["value"], stopped.state)
    assert (pasted.code, pasted.selling_partner_id) == (CODE, SELLER)
    only_relay_requests(relay_server)


@pytest.mark.parametrize(
    "state",
    ["evil.com.xxx", "1234@evil.com", "//evil.example", "80.abcdefgh", None],
    ids=["dotted-host", "userinfo", "protocol-relative", "privileged-port", "no-state"],
)
def test_state_without_a_usable_port_never_navigates(
    chromium: Chromium, relay_server: RelayServer, state: str | None
) -> None:
    params = {"spapi_oauth_code": CODE, "selling_partner_id": SELLER}
    if state is not None:
        params["state"] = state
    url = relay_server.url(urlencode(params))

    elements = by_id(chromium.dump_dom(url, trap_port=relay_server.port))

    only_relay_requests(relay_server)
    assert elements["title"].text == "soldscope cannot be found from this page"
    assert not elements["problem"].hidden
    assert "does not say where soldscope is listening" in elements["problem-text"].text
    assert elements["continue"].hidden
    assert elements["continue-link"].attrs["href"] == "#"
    # What remains possible is pasting this very address into `connect --manual`.
    assert elements["callback-url"].attrs["value"] == url


def test_amazon_error_is_shown_and_passed_on_to_the_listener(
    chromium: Chromium, relay_server: RelayServer
) -> None:
    with CallbackListener(label="acme-eu", port_in_state=True) as listener:
        query = urlencode(
            {"error": "access_denied", "error_description": "MD1000", "state": listener.state}
        )
        outcome: list[BaseException] = []

        def wait() -> None:
            try:
                listener.wait(12.0)
            except BaseException as exc:
                outcome.append(exc)

        waiter = threading.Thread(target=wait)
        waiter.start()
        dom = chromium.dom_when(relay_server.url(query), "What to do:", trap_port=relay_server.port)
        waiter.join()

    assert len(outcome) == 1 and isinstance(outcome[0], ConsentDenied)
    assert outcome[0].explanation == f"MD1000: {MD_ERRORS['MD1000']}"
    # The listener's failure page (not the relay page's own text) carries the meaning too.
    assert "What to do:" in dom and "version=beta" in dom


def test_amazon_error_with_soldscope_unreachable_is_explained_on_the_page(
    chromium: Chromium, relay_server: RelayServer
) -> None:
    stopped = CallbackListener(label="gone")
    stopped.close()
    query = urlencode(
        {"error": "access_denied", "error_description": "MD5101", "state": new_state(stopped.port)}
    )

    elements = by_id(chromium.dump_dom(relay_server.url(query), trap_port=relay_server.port))

    assert elements["title"].text == "Amazon did not authorize the app"
    assert not elements["problem"].hidden
    assert "access_denied: MD5101" in elements["problem-text"].text
    assert elements["problem-meaning"].text.startswith("MD5101: the redirect URI is not registered")
    assert not elements["paste"].hidden
    only_relay_requests(relay_server)
