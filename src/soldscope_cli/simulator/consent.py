"""Seller Central's consent page (website authorization workflow) with Amazon's MD error codes."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from soldscope_cli.simulator.web import Request, Response, html_response, redirect

if TYPE_CHECKING:
    from soldscope_cli.simulator.engine import Engine
    from soldscope_cli.simulator.scenario import AppSettings, SellerSettings

CONSENT_PATH = "/apps/authorize/consent"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_MD_TEXT = {
    "MD1000": "The application is not available. It may be in draft state and the authorization "
    "URL is missing version=beta, or the application id is wrong.",
    "MD5101": "The redirect URI is not registered for this application.",
    "MD5110": "The redirect URI contains a fragment (#), which is not allowed.",
}


def error_page(code: str) -> Response:
    """Amazon's consent error page, naming the MD code."""
    text = html.escape(_MD_TEXT[code])
    return html_response(
        400,
        f"Error {code}",
        f'<h1>We\'re sorry</h1><p class="error-code">Error code: <b>{code}</b></p><p>{text}</p>',
    )


def is_loopback(uri: str) -> bool:
    """Whether `uri` is an http(s) URL on a loopback host (any port)."""
    try:
        parts = urlsplit(uri)
        return parts.scheme in ("http", "https") and (parts.hostname or "") in LOOPBACK_HOSTS
    except ValueError:
        return False


def resolve_redirect(app: AppSettings, redirect_uri: str | None) -> tuple[str | None, str | None]:
    """(redirect URI to use, MD error code): registered URIs match exactly; loopback if allowed."""
    if not redirect_uri:
        # Amazon falls back to the first registered URI (FACTS §1).
        return (app.redirect_uris[0], None) if app.redirect_uris else (None, "MD5101")
    if "#" in redirect_uri:
        return None, "MD5110"
    if redirect_uri in app.redirect_uris:
        return redirect_uri, None
    if app.accept_any_loopback_redirect and is_loopback(redirect_uri):
        return redirect_uri, None
    return None, "MD5101"


def _with_query(uri: str, params: dict[str, str]) -> str:
    separator = "&" if urlsplit(uri).query else "?"
    return uri + separator + urlencode(params)


def handle_consent(engine: Engine, request: Request) -> Response:
    """GET shows the page (or confirms at once with auto-confirm); POST is its Confirm/Cancel form."""
    if request.method == "POST":
        fields = request.form()
        params = {
            key: fields.get(key) for key in ("application_id", "state", "redirect_uri", "version")
        }
        chosen = fields.get("selling_partner_id")
        action = fields.get("action", "")
    else:
        params = {
            key: request.param(key)
            for key in ("application_id", "state", "redirect_uri", "version")
        }
        chosen = request.param("sim_seller")
        action = ""
    with engine.lock:
        app = engine.scenario.app
        if params["application_id"] != app.application_id:
            return error_page("MD1000")
        if app.draft and params["version"] != "beta":
            return error_page("MD1000")
        target, md_code = resolve_redirect(app, params["redirect_uri"])
        if md_code or target is None:
            return error_page(md_code or "MD5101")
        seller = engine.signed_in_seller(chosen)
        auto_confirm = engine.scenario.consent.auto_confirm
        sellers = list(engine.scenario.sellers)
    state = params["state"] or ""
    if seller is None:
        return html_response(
            400,
            "No seller",
            "<h1>No seller account</h1><p>The chosen seller is not in the scenario, or the scenario "
            "has no sellers.</p>",
        )
    if request.method == "POST" and action == "cancel":
        return redirect(
            _with_query(
                target,
                {
                    "error": "access_denied",
                    "error_description": "The seller declined to authorize the application.",
                    "state": state,
                },
            )
        )
    if request.method == "POST" and action != "confirm":
        return html_response(400, "Bad request", "<h1>Unknown action</h1>")
    if request.method == "POST" or auto_confirm:
        code = engine.issue_code(seller.selling_partner_id, target)
        return redirect(
            _with_query(
                target,
                {
                    "state": state,
                    "selling_partner_id": seller.selling_partner_id,
                    "spapi_oauth_code": code,
                },
            )
        )
    return _page(engine.scenario.app, params, seller, sellers, target)


def _page(
    app: AppSettings,
    params: dict[str, str | None],
    signed_in: SellerSettings,
    sellers: list[SellerSettings],
    target: str,
) -> Response:
    esc = html.escape
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{esc(value)}">'
        for name, value in params.items()
        if value is not None and name != "redirect_uri"
    )
    hidden += f'<input type="hidden" name="redirect_uri" value="{esc(target)}">'
    options = "".join(
        f'<option value="{esc(s.selling_partner_id)}"'
        f"{' selected' if s is signed_in else ''}>"
        f"{esc(s.store_name)} ({esc(s.selling_partner_id)}, {s.region.upper()})</option>"
        for s in sellers
    )
    body = (
        f"<h1>Authorize {esc(app.application_id)}</h1>"
        f'<p>The application <b class="app">{esc(app.application_id)}</b> is requesting access '
        "to your Amazon selling account data.</p>"
        f'<form method="post" action="{CONSENT_PATH}">{hidden}'
        f'<p><label>Signed in as <select name="selling_partner_id">{options}</select></label></p>'
        '<p><button type="submit" name="action" value="confirm">Confirm</button>'
        '<button type="submit" name="action" value="cancel">Cancel</button></p>'
        "</form>"
    )
    return html_response(200, f"Authorize {app.application_id}", body)
