"""The /_admin JSON API: each route calls the Engine method of the same purpose."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from soldscope_cli.simulator.scenario import ScenarioError, UnknownSellerError
from soldscope_cli.simulator.web import Request, Response, json_response

if TYPE_CHECKING:
    from soldscope_cli.simulator.engine import Engine

Action = Callable[["Engine", dict[str, Any], dict[str, str]], tuple[int, Any]]
_SECTIONS = {
    "consent": "consent",
    "latency": "latency",
    "pagination": "pagination",
    "rate-limits": "rate_limits",
    "reports": "reports",
    "data-kiosk": "data_kiosk",
}


def _ok(value: Any = None, status: int = 200) -> tuple[int, Any]:
    return status, {"ok": True} if value is None else value


def _void(call: Callable[[Engine, dict[str, Any], dict[str, str]], None]) -> Action:
    def action(engine: Engine, body: dict[str, Any], params: dict[str, str]) -> tuple[int, Any]:
        call(engine, body, params)
        return _ok()

    return action


def _section_get(name: str) -> Action:
    return lambda e, _b, _p: _ok(e.scenario_dict()[name])


def _section_put(name: str) -> Action:
    return lambda e, b, _p: _ok(e.update_section(name, b))


def _rotate(engine: Engine, body: dict[str, Any], _: dict[str, str]) -> tuple[int, Any]:
    grace = body.get("grace_seconds", 7 * 86400)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or grace < 0:
        raise ScenarioError("grace_seconds must be a number ≥ 0", hint=None)
    secret = body.get("client_secret")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ScenarioError("client_secret must be a non-empty string", hint=None)
    return _ok({"client_secret": engine.rotate_client_secret(secret, grace_seconds=float(grace))})


def _rotation_queue(engine: Engine, body: dict[str, Any], _: dict[str, str]) -> tuple[int, Any]:
    queue_url = body.get("queue_url")
    if queue_url is not None and (not isinstance(queue_url, str) or "://" not in queue_url):
        raise ScenarioError("queue_url must be an SQS queue URL or null", hint=None)
    deliver = body.get("deliver", True)
    if not isinstance(deliver, bool):
        raise ScenarioError("deliver must be true or false", hint=None)
    return _ok(engine.set_rotation_queue(queue_url, deliver=deliver))


def _expiry_notice(engine: Engine, body: dict[str, Any], _: dict[str, str]) -> tuple[int, Any]:
    reason = body.get("reason", "PERIODIC_ROTATION")
    if not isinstance(reason, str) or not reason:
        raise ScenarioError("reason must be a non-empty string", hint=None)
    return _ok(engine.notify_secret_expiry(reason))


def _advance(engine: Engine, body: dict[str, Any], _: dict[str, str]) -> tuple[int, Any]:
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ScenarioError("seconds must be a number", hint=None)
    engine.advance_clock(float(seconds))
    return _ok(engine.clock())


def _load(engine: Engine, body: dict[str, Any], _: dict[str, str]) -> tuple[int, Any]:
    engine.load(body)
    return _ok(engine.scenario_dict())


def _reset(engine: Engine, _b: dict[str, Any], _p: dict[str, str]) -> tuple[int, Any]:
    engine.reset()
    return _ok()


def _authorize(engine: Engine, _b: dict[str, Any], p: dict[str, str]) -> tuple[int, Any]:
    token = engine.authorize(p["id"])
    return _ok({"selling_partner_id": p["id"], "refresh_token": token})


_ROUTES: list[tuple[str, str, Action]] = [
    ("GET", "/_admin/health", lambda e, _b, _p: _ok({"ok": True, "now": e.clock()["now"]})),
    ("GET", "/_admin/scenario", lambda e, _b, _p: _ok(e.scenario_dict())),
    ("PUT", "/_admin/scenario", _load),
    ("POST", "/_admin/reset", _reset),
    ("GET", "/_admin/sellers", lambda e, _b, _p: _ok(e.sellers())),
    ("POST", "/_admin/sellers", lambda e, b, _p: _ok(e.add_seller(b), 201)),
    ("GET", "/_admin/sellers/{id}", lambda e, _b, p: _ok(e.seller(p["id"]))),
    ("PATCH", "/_admin/sellers/{id}", lambda e, b, p: _ok(e.update_seller(p["id"], b))),
    ("DELETE", "/_admin/sellers/{id}", _void(lambda e, _b, p: e.remove_seller(p["id"]))),
    ("POST", "/_admin/sellers/{id}/authorize", _authorize),
    ("POST", "/_admin/sellers/{id}/revoke", lambda e, _b, p: _ok({"revoked": e.revoke(p["id"])})),
    (
        "PUT",
        "/_admin/sellers/{id}/roles/{role}",
        lambda e, _b, p: _ok(e.add_role(p["id"], p["role"])),
    ),
    (
        "DELETE",
        "/_admin/sellers/{id}/roles/{role}",
        lambda e, _b, p: _ok(e.remove_role(p["id"], p["role"])),
    ),
    (
        "PUT",
        "/_admin/sellers/{id}/marketplaces/{code}",
        lambda e, _b, p: _ok(e.add_marketplace(p["id"], p["code"])),
    ),
    (
        "DELETE",
        "/_admin/sellers/{id}/marketplaces/{code}",
        lambda e, _b, p: _ok(e.drop_marketplace(p["id"], p["code"])),
    ),
    ("GET", "/_admin/app", lambda e, _b, _p: _ok(e.scenario_dict()["app"])),
    ("PATCH", "/_admin/app", lambda e, b, _p: _ok(e.update_app(b))),
    ("POST", "/_admin/app/rotate-secret", _rotate),
    ("GET", "/_admin/app/rotation", lambda e, _b, _p: _ok(e.rotation_settings().as_dict())),
    ("PUT", "/_admin/app/rotation", _rotation_queue),
    ("POST", "/_admin/app/secret-expiry-notice", _expiry_notice),
    ("POST", "/_admin/app/expire-secret", _void(lambda e, _b, _p: e.expire_client_secret())),
    ("GET", "/_admin/failures", lambda e, _b, _p: _ok(e.failures())),
    ("POST", "/_admin/failures", lambda e, b, _p: _ok(e.add_failure_rule(b), 201)),
    ("DELETE", "/_admin/failures", _void(lambda e, _b, _p: e.clear_failures())),
    ("GET", "/_admin/counters", lambda e, _b, _p: _ok(e.counters())),
    ("DELETE", "/_admin/counters", _void(lambda e, _b, _p: e.reset_counters())),
    ("GET", "/_admin/clock", lambda e, _b, _p: _ok(e.clock())),
    ("POST", "/_admin/clock/advance", _advance),
]
for _path, _name in _SECTIONS.items():
    _ROUTES.append(("GET", f"/_admin/{_path}", _section_get(_name)))
    _ROUTES.append(("PUT", f"/_admin/{_path}", _section_put(_name)))

_COMPILED = [
    (method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$"), action)
    for method, path, action in _ROUTES
]


def routes() -> list[tuple[str, str]]:
    """(method, path template) of every admin route, for documentation and tests."""
    return [(method, path) for method, path, _ in _ROUTES]


def handle(engine: Engine, request: Request) -> Response:
    """Dispatch one /_admin request; errors come back as {"error", "hint"}."""
    path_matched = False
    for method, pattern, action in _COMPILED:
        found = pattern.match(request.path)
        if not found:
            continue
        path_matched = True
        if method != request.method:
            continue
        params = {k: unquote(v) for k, v in found.groupdict().items()}
        try:
            body = request.json() if request.body.strip() else {}
        except ValueError:
            return json_response(400, {"error": "the request body is not valid JSON"})
        if not isinstance(body, dict):
            return json_response(400, {"error": "the request body must be a JSON object"})
        try:
            status, payload = action(engine, body, params)
        except UnknownSellerError as exc:
            return json_response(404, {"error": exc.message})
        except ScenarioError as exc:
            return json_response(400, {"error": exc.message, "hint": exc.hint})
        return json_response(status, payload)
    if path_matched:
        return json_response(405, {"error": f"{request.method} is not supported on {request.path}"})
    return json_response(404, {"error": f"no admin route {request.path}"})
