"""Login with Amazon's token endpoint: code exchange, refresh and grantless, with LWA's error bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from soldscope_cli.simulator.web import Request, Response, json_response

if TYPE_CHECKING:
    from soldscope_cli.simulator.engine import Engine

TOKEN_PATH = "/auth/o2/token"
ACCESS_TOKEN_SECONDS = 3600
CODE_SECONDS = 300  # FACTS §1: the spapi_oauth_code expires after 5 minutes
GRANTLESS_SCOPES = frozenset(
    {
        "sellingpartnerapi::notifications",
        "sellingpartnerapi::client_credential:rotation",
        "sellingpartnerapi::migration",
    }
)


def lwa_error(status: int, error: str, description: str) -> Response:
    """LWA's error shape: {"error", "error_description"}."""
    return json_response(
        status,
        {"error": error, "error_description": description},
        {"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _missing(name: str) -> Response:
    return lwa_error(
        400, "invalid_request", f"The request is missing a required parameter : {name}"
    )


def handle_token(engine: Engine, request: Request) -> Response:
    """POST /auth/o2/token."""
    if request.method != "POST":
        return lwa_error(400, "invalid_request", "The request method must be POST")
    content_type = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" not in content_type:
        return lwa_error(
            400,
            "invalid_request",
            "The request must be form-encoded (application/x-www-form-urlencoded)",
        )
    form = request.form()
    grant_type = form.get("grant_type", "")
    if not grant_type:
        return _missing("grant_type")
    if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
        return lwa_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server",
        )
    for name in ("client_id", "client_secret"):
        if not form.get(name):
            return _missing(name)
    if not engine.client_authenticates(form["client_id"], form["client_secret"]):
        return lwa_error(401, "invalid_client", "Client authentication failed")

    if grant_type == "authorization_code":
        for name in ("code", "redirect_uri"):
            if not form.get(name):
                return _missing(name)
        refresh = engine.exchange_code(form["code"], form["redirect_uri"])
        if refresh is None:
            return lwa_error(
                400, "invalid_grant", "The request has an invalid grant parameter : code"
            )
        access = engine.issue_access_token(refresh_token=refresh)
        return _tokens(access, refresh)

    if grant_type == "refresh_token":
        if not form.get("refresh_token"):
            return _missing("refresh_token")
        access = engine.issue_access_token(refresh_token=form["refresh_token"])
        if access is None:
            return lwa_error(
                400,
                "invalid_grant",
                "The request has an invalid grant parameter : refresh_token. "
                "User may have revoked or didn't grant the permission.",
            )
        return _tokens(access, form["refresh_token"])

    scope = form.get("scope", "")
    if not scope:
        return _missing("scope")
    if any(part not in GRANTLESS_SCOPES for part in scope.split()):
        return lwa_error(400, "invalid_scope", "An unknown scope was requested")
    access = engine.issue_grantless_token(scope)
    return json_response(
        200,
        {
            "access_token": access,
            "scope": scope,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
        },
        {"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _tokens(access: str | None, refresh: str) -> Response:
    if access is None:  # the grant vanished between the checks, e.g. revoked concurrently
        return lwa_error(400, "invalid_grant", "The request has an invalid grant parameter")
    return json_response(
        200,
        {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
        },
        {"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
