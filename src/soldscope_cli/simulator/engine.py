"""The simulator's state and request dispatch, independent of sockets; every admin action is a method."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import soldscope_cli.simulator.admin as admin
import soldscope_cli.simulator.consent as consent
import soldscope_cli.simulator.datakiosk as datakiosk
import soldscope_cli.simulator.lwa as lwa
import soldscope_cli.simulator.reports as reports
import soldscope_cli.simulator.rotation as rotation
import soldscope_cli.simulator.spapi as spapi
import soldscope_cli.simulator.tokens as tokens
from soldscope_cli.amazon.marketplaces import normalize_code
from soldscope_cli.simulator.clock import Clock, Sleep, iso, parse_iso
from soldscope_cli.simulator.ratelimit import RateLimiter
from soldscope_cli.simulator.reports import ReportRecord
from soldscope_cli.simulator.scenario import (
    FailureRule,
    Scenario,
    ScenarioError,
    SellerSettings,
    UnknownSellerError,
    parse_app,
    parse_consent,
    parse_data_kiosk,
    parse_failure,
    parse_latency,
    parse_pagination,
    parse_rate_limits,
    parse_reports,
    parse_scenario,
    parse_seller,
)
from soldscope_cli.simulator.web import Request, Response, html_response, json_response, spapi_error

DEFAULT_SECRET_GRACE_SECONDS = 7 * 86400  # FACTS §3: the old secret works 7 more days


@dataclass
class _Code:
    seller_id: str
    redirect_uri: str
    issued: float
    used: bool = False


@dataclass
class _Grant:
    seller_id: str
    issued: float
    revoked: bool = False


@dataclass
class _Access:
    seller_id: str | None  # None: a grantless token
    expires: float
    refresh_token: str | None
    scopes: frozenset[str] = frozenset()  # a grantless token's scopes


class Engine:
    """All simulator state behind one lock; `handle` answers a Request, the methods mirror /_admin."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self._base_clock: Clock = clock or time.time
        self._sleep: Sleep = sleep or time.sleep
        self._clock_offset = 0.0
        self.lock = threading.RLock()
        self.signer = tokens.Signer()
        self._initial = (scenario or Scenario()).copy()
        self._install(self._initial.copy())

    # --- state ------------------------------------------------------------------------------------

    def _install(self, scenario: Scenario) -> None:
        now = self.now()
        with self.lock:
            self.scenario = scenario
            self._secrets: dict[str, float | None] = {scenario.app.client_secret: None}
            self._secret_expires = now + rotation.SECRET_LIFETIME_SECONDS
            self._rotation = rotation.RotationSettings()
            self._codes: dict[str, _Code] = {}
            self._grants: dict[str, _Grant] = {}
            self._access: dict[str, _Access] = {}
            self.reports: dict[str, ReportRecord] = {}
            # Documents made once and then served as stored bytes ([reports] ready_documents).
            self.ready_documents: dict[tuple[object, ...], list[bytes]] = {}
            self._report_counter = 0
            self.queries: dict[str, datakiosk.QueryRecord] = {}
            self._query_counter = 0
            self.app_quota = datakiosk.AppQuota()
            self.limiter = RateLimiter(
                self.now, enabled=scenario.rate_limits.enabled, scale=scenario.rate_limits.scale
            )
            self._counts: dict[str, Counter[str]] = {
                "by_path": Counter(),
                "by_operation": Counter(),
                "by_status": Counter(),
            }
            self._total = 0
            self._next_failure_id = max((r.id for r in scenario.failures), default=0) + 1
            for seller in scenario.sellers:
                for token in seller.refresh_tokens:
                    self._grants[token] = _Grant(seller.selling_partner_id, now)
            day = int(now // 86400) * 86400
            self._default_anchor = float(day)

    def now(self) -> float:
        """Simulated time (epoch seconds): the injected clock plus any admin clock advance."""
        return self._base_clock() + self._clock_offset

    def data_anchor(self) -> float:
        """The newest moment of generated data (scenario data.anchor, else the start day 00:00 UTC)."""
        anchor = self.scenario.data.anchor
        return parse_iso(anchor).timestamp() if anchor else self._default_anchor

    def history_days(self) -> int:
        """How many days of generated history lie before the anchor."""
        return self.scenario.data.history_days

    def repeats_next_token(self, api: str) -> bool:
        """Whether `api` ("inventory", "finances") answers a nextToken with that same token."""
        with self.lock:
            return api in self.scenario.pagination.repeat_next_token

    def _seller(self, selling_partner_id: str) -> SellerSettings:
        seller = self.scenario.seller(selling_partner_id)
        if seller is None:
            raise UnknownSellerError(selling_partner_id)
        return seller

    # --- LWA and consent --------------------------------------------------------------------------

    def client_authenticates(self, client_id: str, client_secret: str) -> bool:
        """Whether the app's client id and a current (or still-in-grace) secret were given."""
        with self.lock:
            if client_id != self.scenario.app.client_id or client_secret not in self._secrets:
                return False
            valid_until = self._secrets[client_secret]
            return valid_until is None or self.now() <= valid_until

    def signed_in_seller(self, chosen: str | None) -> SellerSettings | None:
        """Who the consent page is signed in as: `chosen`, the consent setting, or the first seller."""
        with self.lock:
            if chosen:
                return self.scenario.seller(chosen)
            configured = self.scenario.consent.signed_in_seller
            if configured and self.scenario.seller(configured):
                return self.scenario.seller(configured)
            return self.scenario.sellers[0] if self.scenario.sellers else None

    def issue_code(self, selling_partner_id: str, redirect_uri: str) -> str:
        """A fresh spapi_oauth_code for a seller's consent."""
        code = tokens.oauth_code()
        with self.lock:
            self._codes[code] = _Code(selling_partner_id, redirect_uri, self.now())
        return code

    def exchange_code(self, code: str, redirect_uri: str) -> str | None:
        """A new refresh token for an unused, unexpired code with the consent's redirect URI."""
        with self.lock:
            entry = self._codes.get(code)
            if entry is None or entry.used or entry.redirect_uri != redirect_uri:
                return None
            if self.now() > entry.issued + lwa.CODE_SECONDS:
                return None
            if self.scenario.seller(entry.seller_id) is None:
                return None
            entry.used = True
            return self._new_grant(entry.seller_id)

    def _new_grant(self, selling_partner_id: str) -> str:
        token = tokens.refresh_token()
        self._grants[token] = _Grant(selling_partner_id, self.now())
        return token

    def _grant_valid(self, grant: _Grant | None) -> bool:
        if grant is None or grant.revoked or self.scenario.seller(grant.seller_id) is None:
            return False
        days = self.scenario.app.refresh_token_lifetime_days
        return days is None or self.now() <= grant.issued + days * 86400

    def issue_access_token(self, *, refresh_token: str) -> str | None:
        """An hour-long access token for a valid refresh token, else None."""
        with self.lock:
            grant = self._grants.get(refresh_token)
            if grant is None or not self._grant_valid(grant):
                return None
            self._prune_access()
            token = tokens.access_token()
            self._access[token] = _Access(
                grant.seller_id, self.now() + lwa.ACCESS_TOKEN_SECONDS, refresh_token
            )
            return token

    def issue_grantless_token(self, scope: str) -> str:
        """An access token for grantless operations (useless on seller data)."""
        with self.lock:
            self._prune_access()
            token = tokens.access_token()
            self._access[token] = _Access(
                None, self.now() + lwa.ACCESS_TOKEN_SECONDS, None, frozenset(scope.split())
            )
            return token

    def token_has_scope(self, token: str, scope: str) -> bool:
        """Whether an unexpired grantless access token was minted for `scope`."""
        with self.lock:
            entry = self._access.get(token) if token else None
            return (
                entry is not None
                and entry.seller_id is None
                and self.now() < entry.expires
                and scope in entry.scopes
            )

    def _prune_access(self) -> None:
        if len(self._access) > 20000:
            now = self.now()
            self._access = {k: v for k, v in self._access.items() if v.expires > now}

    def seller_for_access_token(self, token: str) -> SellerSettings | None:
        """The seller an unexpired, unrevoked access token acts for."""
        with self.lock:
            entry = self._access.get(token) if token else None
            if entry is None or entry.seller_id is None or self.now() >= entry.expires:
                return None
            if entry.refresh_token is not None and not self._grant_valid(
                self._grants.get(entry.refresh_token)
            ):
                return None
            return self.scenario.seller(entry.seller_id)

    def next_report_id(self) -> str:
        """A new numeric report id, like Amazon's."""
        with self.lock:
            self._report_counter += 1
            return str(50_000_000_000 + self._report_counter)

    def next_query_id(self) -> str:
        """A fresh Data Kiosk queryId (digits, like Amazon's)."""
        with self.lock:
            self._query_counter += 1
            return str(40_000_000_000 + self._query_counter)

    def report_by_document(self, document_id: str) -> ReportRecord | None:
        """The report a document id belongs to."""
        with self.lock:
            for record in self.reports.values():
                if record.document_id == document_id:
                    return record
        return None

    # --- dispatch ---------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request; every response carries x-amzn-RequestId."""
        request_id = tokens.request_id()
        if request.path == "/_admin" or request.path.startswith("/_admin/"):
            response = admin.handle(self, request)
        else:
            operation, response = self._serve(request)
            self._count(request.path, operation, response.status)
        response.headers["x-amzn-RequestId"] = request_id
        return response

    def _serve(self, request: Request) -> tuple[str, Response]:
        name, answer = self._route(request)
        delay_ms = self._latency_ms(request.path)
        if delay_ms > 0:
            self._sleep(delay_ms / 1000.0)  # outside the lock: slow requests must not block others
        injected = self._take_failure(request)
        if injected is not None:
            return name, injected
        return name, answer()

    def _route(self, request: Request) -> tuple[str, Callable[[], Response]]:
        path = request.path
        if path == lwa.TOKEN_PATH:
            grant_type = request.form().get("grant_type") if request.method == "POST" else None
            return f"lwa:{grant_type or 'unknown'}", lambda: lwa.handle_token(self, request)
        if path == consent.CONSENT_PATH:
            return "consent", lambda: consent.handle_consent(self, request)
        if path == rotation.ROTATION_PATH:
            return rotation.OPERATION, lambda: rotation.handle_rotate(self, request)
        if path.startswith(datakiosk.DOCUMENTS_PATH) and request.method == "GET":
            return "downloadDataKioskDocument", lambda: datakiosk.download(self, request)
        if path.startswith(reports.DOCUMENTS_PATH) and request.method == "GET":
            return "downloadReportDocument", lambda: reports.download(self, request)
        found = spapi.route(request.method, path)
        if found is not None:
            operation, params = found
            return operation.name, lambda: spapi.call(self, operation, request, params)
        if path == "/" and request.method == "GET":
            return "index", self._index
        return "notFound", lambda: spapi_error(
            404, "NotFound", "The requested resource was not found.", ""
        )

    def _index(self) -> Response:
        return html_response(
            200,
            "soldscope simulator",
            "<h1>soldscope simulator</h1><p>A local stand-in for Login with Amazon, Seller "
            "Central consent and the SP-API. The admin API lives under <code>/_admin/</code>.</p>",
        )

    def _latency_ms(self, path: str) -> float:
        with self.lock:
            latency = self.scenario.latency
            best, value = -1, latency.default_ms
            for prefix, ms in latency.by_prefix.items():
                if path.startswith(prefix) and len(prefix) > best:
                    best, value = len(prefix), ms
            return value

    def _take_failure(self, request: Request) -> Response | None:
        with self.lock:
            for rule in self.scenario.failures:
                if not request.path.startswith(rule.path_prefix):
                    continue
                if rule.method and rule.method != request.method:
                    continue
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self.scenario.failures.remove(rule)
                return _failure_response(rule, request.path)
        return None

    def _count(self, path: str, operation: str, status: int) -> None:
        with self.lock:
            self._total += 1
            self._counts["by_path"][path] += 1
            self._counts["by_operation"][operation] += 1
            self._counts["by_status"][str(status)] += 1

    # --- the admin API, as Python ----------------------------------------------------------------

    def scenario_dict(self) -> dict[str, Any]:
        """The scenario as it is now (after admin changes), in file format."""
        with self.lock:
            return self.scenario.to_dict()

    def load(self, scenario: Scenario | Mapping[str, Any]) -> None:
        """Replace the scenario; tokens, codes, reports and counters start afresh."""
        parsed = scenario.copy() if isinstance(scenario, Scenario) else parse_scenario(scenario)
        with self.lock:
            self._initial = parsed.copy()
            self._install(parsed)

    def reset(self) -> None:
        """Back to the scenario the simulator was started (or last loaded) with."""
        with self.lock:
            self._install(self._initial.copy())

    def sellers(self) -> list[dict[str, Any]]:
        """Every seller, in scenario format."""
        with self.lock:
            return list(self.scenario.to_dict()["sellers"])

    def seller(self, selling_partner_id: str) -> dict[str, Any]:
        """One seller, in scenario format."""
        with self.lock:
            seller = self._seller(selling_partner_id)
            return dict(Scenario(sellers=[seller]).to_dict()["sellers"][0])

    def add_seller(self, seller: SellerSettings | Mapping[str, Any]) -> dict[str, Any]:
        """Add a seller."""
        parsed = (
            parse_seller(Scenario(sellers=[seller]).to_dict()["sellers"][0])
            if isinstance(seller, SellerSettings)
            else parse_seller(seller)
        )
        with self.lock:
            if self.scenario.seller(parsed.selling_partner_id):
                raise ScenarioError(f"seller {parsed.selling_partner_id} already exists", hint=None)
            self.scenario.sellers.append(parsed)
            for token in parsed.refresh_tokens:
                self._grants[token] = _Grant(parsed.selling_partner_id, self.now())
        return self.seller(parsed.selling_partner_id)

    def update_seller(self, selling_partner_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some fields of a seller (roles, marketplaces, volumes, store name...)."""
        with self.lock:
            current = self._seller(selling_partner_id)
            updated = parse_seller(changes, "seller", base=current)
            self.scenario.sellers[self.scenario.sellers.index(current)] = updated
            return self.seller(selling_partner_id)

    def remove_seller(self, selling_partner_id: str) -> None:
        """Remove a seller: its tokens stop working."""
        with self.lock:
            self.scenario.sellers.remove(self._seller(selling_partner_id))

    def authorize(self, selling_partner_id: str) -> str:
        """Self-authorize: a new refresh token for the seller, no browser involved."""
        with self.lock:
            self._seller(selling_partner_id)
            return self._new_grant(selling_partner_id)

    def revoke(self, selling_partner_id: str) -> int:
        """The seller revokes the app: its refresh tokens get invalid_grant, access tokens 403."""
        with self.lock:
            self._seller(selling_partner_id)
            count = 0
            for grant in self._grants.values():
                if grant.seller_id == selling_partner_id and not grant.revoked:
                    grant.revoked = True
                    count += 1
            return count

    def add_role(self, selling_partner_id: str, role: str) -> dict[str, Any]:
        """Grant a role."""
        roles = self._seller(selling_partner_id).roles
        return self.update_seller(
            selling_partner_id, {"roles": [*roles, role] if role not in roles else roles}
        )

    def remove_role(self, selling_partner_id: str, role: str) -> dict[str, Any]:
        """Take a role away: the APIs needing it answer 403."""
        roles = self._seller(selling_partner_id).roles
        return self.update_seller(selling_partner_id, {"roles": [r for r in roles if r != role]})

    def add_marketplace(self, selling_partner_id: str, code: str) -> dict[str, Any]:
        """Add a marketplace (country code) to the seller's participations."""
        markets = self._seller(selling_partner_id).marketplaces
        return self.update_seller(selling_partner_id, {"marketplaces": [*markets, code]})

    def drop_marketplace(self, selling_partner_id: str, code: str) -> dict[str, Any]:
        """Drop a marketplace from the seller's participations (and its data)."""
        canonical = normalize_code(code)
        markets = self._seller(selling_partner_id).marketplaces
        if canonical not in markets:
            raise ScenarioError(f"seller {selling_partner_id} has no marketplace {code}", hint=None)
        return self.update_seller(
            selling_partner_id, {"marketplaces": [m for m in markets if m != canonical]}
        )

    def update_app(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change app settings; a new client_secret here replaces the old one at once."""
        with self.lock:
            updated = parse_app(changes, base=self.scenario.app)
            if updated.client_secret != self.scenario.app.client_secret:
                self._secrets = {updated.client_secret: None}
            self.scenario.app = updated
            return dict(self.scenario_dict()["app"])

    def rotate_client_secret(
        self, new_secret: str | None = None, *, grace_seconds: float = DEFAULT_SECRET_GRACE_SECONDS
    ) -> str:
        """Rotate the LWA client secret; the old one keeps working for `grace_seconds`.

        With a rotation queue registered, the new secret is sent to it as Amazon does, whether the
        rotation came from the API or from a person in Solution Provider Portal (this method).
        """
        secret = new_secret or "amzn1.oa2-cs.v1." + tokens.stable_id(tokens.request_id(), length=40)
        with self.lock:
            now = self.now()
            until = now + grace_seconds
            for old, valid_until in list(self._secrets.items()):
                self._secrets[old] = until if valid_until is None else min(valid_until, until)
            self._secrets[secret] = None
            self.scenario.app.client_secret = secret
            self._secret_expires = now + rotation.SECRET_LIFETIME_SECONDS
            message = rotation.new_secret_message(self, secret, self._secret_expires, until)
        self._deliver(message)
        return secret

    def rotation_settings(self) -> rotation.RotationSettings:
        """The app's rotation notification preference (a copy)."""
        with self.lock:
            return dataclasses.replace(self._rotation)

    def set_rotation_queue(self, queue_url: str | None, *, deliver: bool = True) -> dict[str, Any]:
        """Register (or, with None, remove) the SQS queue rotation messages go to."""
        with self.lock:
            self._rotation.queue_url = queue_url
            self._rotation.deliver = deliver
            return self._rotation.as_dict()

    def notify_secret_expiry(self, reason: str = "PERIODIC_ROTATION") -> dict[str, Any]:
        """Send APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY for the current secret to the queue."""
        with self.lock:
            if self._rotation.queue_url is None:
                raise ScenarioError(
                    "no rotation queue is registered", hint="PUT /_admin/app/rotation first"
                )
            message = rotation.expiry_message(self, self._secret_expires, reason)
        self._deliver(message)
        return self.rotation_settings().as_dict()

    def _deliver(self, message: dict[str, Any]) -> None:
        with self.lock:
            queue_url, deliver = self._rotation.queue_url, self._rotation.deliver
        if queue_url is None:
            return
        try:
            if not deliver:
                raise OSError("delivery is switched off")
            rotation.send(queue_url, message)  # outside the lock: the queue may be slow
        except OSError:
            with self.lock:
                self._rotation.failed += 1
            return
        with self.lock:
            self._rotation.sent += 1

    def expire_client_secret(self) -> None:
        """Every client secret of the app stops working (invalid_client) until a rotation."""
        with self.lock:
            past = self.now() - 1
            self._secrets = dict.fromkeys(self._secrets, past)

    def consent_settings(self) -> dict[str, Any]:
        """Signed-in seller and auto-confirm."""
        with self.lock:
            return dict(self.scenario_dict()["consent"])

    def set_consent(
        self, *, signed_in_seller: str | None = None, auto_confirm: bool | None = None
    ) -> dict[str, Any]:
        """Choose who the consent page is signed in as, and whether GET confirms by itself."""
        return self.update_section(
            "consent", _given(signed_in_seller=signed_in_seller, auto_confirm=auto_confirm)
        )

    def set_latency(
        self, default_ms: float | None = None, *, by_prefix: Mapping[str, float] | None = None
    ) -> dict[str, Any]:
        """Delay every request by default_ms, or by the longest matching prefix's value."""
        return self.update_section(
            "latency",
            _given(
                default_ms=default_ms, by_prefix=dict(by_prefix) if by_prefix is not None else None
            ),
        )

    def set_rate_limits(
        self, *, enabled: bool | None = None, scale: float | None = None
    ) -> dict[str, Any]:
        """Switch rate limiting off/on or scale every rate and burst."""
        return self.update_section("rate_limits", _given(enabled=enabled, scale=scale))

    def set_reports(self, **changes: Any) -> dict[str, Any]:
        """Report lifecycle: polls_in_queue, polls_in_progress, seconds_in_*, outcomes."""
        return self.update_section("reports", changes)

    def set_pagination(self, **changes: Any) -> dict[str, Any]:
        """Broken pagination: repeat_next_token, the APIs that answer a token with itself."""
        return self.update_section("pagination", changes)

    def update_section(self, section: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Merge `changes` into a settings section (consent, latency, pagination, rate_limits,
        reports)."""
        parsers: dict[str, Callable[..., Any]] = {
            "consent": parse_consent,
            "latency": parse_latency,
            "pagination": parse_pagination,
            "rate_limits": parse_rate_limits,
            "reports": parse_reports,
            "data_kiosk": parse_data_kiosk,
        }
        if section not in parsers:
            raise ScenarioError(f"unknown settings section {section!r}", hint=None)
        with self.lock:
            updated = parsers[section](changes, base=getattr(self.scenario, section))
            if section == "consent" and updated.signed_in_seller:
                self._seller(updated.signed_in_seller)
            setattr(self.scenario, section, updated)
            if section == "rate_limits":
                self.limiter.configure(enabled=updated.enabled, scale=updated.scale)
            return dict(self.scenario_dict()[section])

    def add_failure(
        self,
        status: int,
        *,
        count: int | None = 1,
        path_prefix: str = "/",
        method: str | None = None,
        retry_after: str | float | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        """Answer the next `count` matching requests (None: all) with `status`."""
        return self.add_failure_rule(
            {
                "status": status,
                "count": count,
                "path_prefix": path_prefix,
                "method": method,
                "retry_after": retry_after,
                "body": body,
            }
        )

    def add_failure_rule(self, rule: Mapping[str, Any]) -> dict[str, Any]:
        """add_failure from a mapping (the admin API's body)."""
        parsed = parse_failure(dict(rule))
        if "count" in rule and rule["count"] is None:  # JSON null: every matching request
            parsed.count = None
        with self.lock:
            parsed.id = self._next_failure_id
            self._next_failure_id += 1
            self.scenario.failures.append(parsed)
            return _failure_dict(parsed)

    def failures(self) -> list[dict[str, Any]]:
        """Active failure rules."""
        with self.lock:
            return [_failure_dict(rule) for rule in self.scenario.failures]

    def clear_failures(self) -> None:
        """Remove every failure rule."""
        with self.lock:
            self.scenario.failures.clear()

    def counters(self) -> dict[str, Any]:
        """Requests served (admin calls excluded): total, by path, by operation, by status."""
        with self.lock:
            return {"total": self._total, **{k: dict(v) for k, v in self._counts.items()}}

    def reset_counters(self) -> None:
        """Start counting from zero."""
        with self.lock:
            self._total = 0
            for counter in self._counts.values():
                counter.clear()

    def advance_clock(self, seconds: float) -> float:
        """Move simulated time forward (token, code and URL expiry); returns the new now."""
        if seconds < 0:
            raise ScenarioError("the clock only moves forward", hint=None)
        with self.lock:
            self._clock_offset += seconds
        return self.now()

    def clock(self) -> dict[str, Any]:
        """The simulated now, as epoch seconds and ISO 8601."""
        now = self.now()
        return {"now": iso(now), "epoch": now, "data_anchor": iso(self.data_anchor())}


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _failure_dict(rule: FailureRule) -> dict[str, Any]:
    out = {
        "id": rule.id,
        "status": rule.status,
        "count": rule.count,
        "path_prefix": rule.path_prefix,
        "method": rule.method,
        "retry_after": rule.retry_after,
        "body": rule.body,
    }
    return out


_SPAPI_FAILURES = {
    400: ("InvalidInput", "Invalid input"),
    403: ("Unauthorized", "Access to requested resource is denied."),
    404: ("NotFound", "The requested resource was not found."),
    429: ("QuotaExceeded", "You exceeded your quota for the requested resource."),
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again."),
}
_LWA_FAILURES = {
    400: "invalid_request",
    401: "invalid_client",
    429: "temporarily_unavailable",
    500: "server_error",
    503: "temporarily_unavailable",
}


def _failure_response(rule: FailureRule, path: str) -> Response:
    headers = {"Retry-After": rule.retry_after} if rule.retry_after is not None else {}
    if rule.body is not None:
        if isinstance(rule.body, str):
            return Response(
                rule.status, rule.body.encode(), {"Content-Type": "text/plain", **headers}
            )
        return json_response(rule.status, rule.body, headers)
    if path == lwa.TOKEN_PATH:
        error = _LWA_FAILURES.get(rule.status, "server_error")
        return json_response(
            rule.status, {"error": error, "error_description": "Injected by the simulator"}, headers
        )
    code, message = _SPAPI_FAILURES.get(rule.status, (str(rule.status), "Injected failure"))
    return json_response(
        rule.status, {"errors": [{"code": code, "message": message, "details": ""}]}, headers
    )
