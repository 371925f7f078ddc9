"""Scenario: the app, sellers and behaviour switches the simulator plays, read from TOML or JSON."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from soldscope_cli.amazon.marketplaces import BY_CODE, REGIONS, Region, normalize_code, valid_codes
from soldscope_cli.errors import ConfigError
from soldscope_cli.simulator.clock import parse_iso

# "orders" stands for Amazon's Inventory and Order Tracking role, "fulfillment" for Amazon
# Fulfillment (the FBA reports).
ROLES: tuple[str, ...] = (
    "sellers",
    "inventory",
    "finances",
    "brand_analytics",
    "orders",
    "fulfillment",
)
REPORT_OUTCOMES: tuple[str, ...] = ("DONE", "CANCELLED", "FATAL")
PAGED_APIS: tuple[str, ...] = ("inventory", "finances")

_HINT = "see docs/simulator.md for the scenario format"


class ScenarioError(ConfigError):
    """A scenario (file, admin request or Python value) is malformed or inconsistent."""

    def __init__(self, message: str, hint: str | None = _HINT) -> None:
        super().__init__(message, hint=hint)


class UnknownSellerError(ScenarioError):
    """An admin request names a seller the scenario does not have."""

    def __init__(self, selling_partner_id: str) -> None:
        super().__init__(f"no seller {selling_partner_id} in the scenario", hint=None)


@dataclass
class AppSettings:
    """The SP-API application the simulator knows (Solution Provider Portal's view of it)."""

    application_id: str = "amzn1.sp.solution.5f1c0a2e-0000-4000-8000-000000000001"
    client_id: str = "amzn1.application-oa2-client.simulator0000000000000001"
    client_secret: str = "amzn1.oa2-cs.v1.simulator-secret-0001"
    redirect_uris: list[str] = field(
        default_factory=lambda: ["https://agency.example/soldscope/callback"]
    )
    draft: bool = False
    accept_any_loopback_redirect: bool = True
    refresh_token_lifetime_days: int | None = 365


@dataclass
class SellerSettings:
    """One selling partner account in one region, with the data volumes it serves."""

    selling_partner_id: str
    region: Region
    marketplaces: list[str]
    store_name: str = ""
    roles: list[str] = field(default_factory=lambda: list(ROLES))
    extra_marketplace_ids: list[str] = field(default_factory=list)
    inventory_items: int = 120
    transactions: int = 400
    search_terms_rows: int = 3000
    search_terms_bytes: int | None = None
    orders_rows: int = 60  # lines per orders document
    returns_rows: int = 20  # lines per FBA returns document
    reimbursements_rows: int = 10  # lines per FBA reimbursements document
    settlement_lines: int = 60  # lines of each scheduled settlement report
    settlement_days: int = 100  # how far back the seller has settlements (a newer seller: fewer)
    refresh_tokens: list[str] = field(default_factory=list)

    def flat_report_rows(self, report_type: str) -> int:
        """Lines per document of an orders or FBA flat-file report type."""
        if report_type.startswith("GET_FLAT_FILE_ALL_ORDERS"):
            return self.orders_rows
        if report_type == "GET_FBA_REIMBURSEMENTS_DATA":
            return self.reimbursements_rows
        return self.returns_rows

    def marketplace_ids(self) -> list[str]:
        """The seller's Amazon marketplace ids, in scenario order."""
        return [BY_CODE[code].marketplace_id for code in self.marketplaces]


@dataclass
class ConsentSettings:
    """Who is "signed in" on the consent page and whether the page confirms by itself."""

    signed_in_seller: str | None = None
    auto_confirm: bool = False


@dataclass
class RateLimitSettings:
    """Token-bucket switches: off for benchmarks, scaled to make throttling easy or rare."""

    enabled: bool = True
    scale: float = 1.0


@dataclass
class LatencySettings:
    """Added delay per request, with longest-matching path prefix overrides."""

    default_ms: float = 0.0
    by_prefix: dict[str, float] = field(default_factory=dict)


@dataclass
class ReportSettings:
    """How a report moves IN_QUEUE → IN_PROGRESS → final, and forced final states per type."""

    polls_in_queue: int = 0
    polls_in_progress: int = 1
    seconds_in_queue: float = 0.0
    seconds_in_progress: float = 0.0
    outcomes: dict[str, str] = field(default_factory=dict)
    # Report type → Amazon's reason: a FATAL report of that type carries a document saying it.
    error_details: dict[str, str] = field(default_factory=dict)
    # A pause before each chunk of a settlement document: a slow download to interrupt.
    document_chunk_delay_ms: float = 0.0
    # Serve a document as stored bytes, the way S3 serves a stored object: a Brand Analytics one
    # made at its first download, a flat-file or settlement one made when its report is created.
    # A benchmark's timed download then costs this machine no generating.
    ready_documents: bool = False


@dataclass
class DataKioskSettings:
    """Data Kiosk: its createQuery quota (per application, FACTS.md §8) and a forced outcome."""

    queries_per_hour: float = 60.0  # Amazon: 0.0167 per second
    burst: int = 15
    outcome: str | None = None  # DONE, FATAL or NO_DATA for every query; None: as the data says
    error_details: str = "The query could not be processed."


@dataclass
class DataSettings:
    """Where generated data sits in time: `anchor` is the newest moment (default: start day)."""

    anchor: str | None = None
    history_days: int = 90


@dataclass
class PaginationSettings:
    """Broken pagination on purpose: the APIs listed answer a nextToken with that same token."""

    repeat_next_token: list[str] = field(default_factory=list)  # of PAGED_APIS


@dataclass
class FailureRule:
    """Answer `count` matching requests (None: all) with `status` instead of the real response."""

    status: int
    count: int | None = 1
    path_prefix: str = "/"
    method: str | None = None
    retry_after: str | None = None
    body: Any = None
    id: int = 0


@dataclass
class Scenario:
    """Everything the simulator plays; see docs/simulator.md for the file format."""

    app: AppSettings = field(default_factory=AppSettings)
    sellers: list[SellerSettings] = field(default_factory=list)
    consent: ConsentSettings = field(default_factory=ConsentSettings)
    rate_limits: RateLimitSettings = field(default_factory=RateLimitSettings)
    latency: LatencySettings = field(default_factory=LatencySettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    data_kiosk: DataKioskSettings = field(default_factory=DataKioskSettings)
    data: DataSettings = field(default_factory=DataSettings)
    pagination: PaginationSettings = field(default_factory=PaginationSettings)
    failures: list[FailureRule] = field(default_factory=list)

    def seller(self, selling_partner_id: str) -> SellerSettings | None:
        """The seller with this id, if the scenario has it."""
        for seller in self.sellers:
            if seller.selling_partner_id == selling_partner_id:
                return seller
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (None values dropped so it also round-trips through TOML)."""
        data = asdict(self)
        for rule in data["failures"]:
            if rule["count"] is None:  # "every request" is 0 in files, since TOML has no null
                rule["count"] = 0
        return cast(dict[str, Any], _drop_none(data))

    def copy(self) -> Scenario:
        """A deep copy, so runtime changes never leak into the scenario it started from."""
        return copy.deepcopy(self)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


T = TypeVar("T")


class _Reader:
    """Reads one table of the scenario, naming the offending key in every error."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ScenarioError(f"scenario: {where or 'top level'} must be a table/object")
        self.data = dict(data)
        self.where = where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, kind: type[T] | tuple[type, ...], default: Any) -> Any:
        value = self.data.pop(key, None)
        if value is None:
            return default
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int subclass; a `true` where a number belongs is a typo worth reporting.
        if isinstance(value, bool) and bool not in kinds:
            raise ScenarioError(f"scenario: {self._name(key)} must be {_kind_name(kinds)}")
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds):
            raise ScenarioError(f"scenario: {self._name(key)} must be {_kind_name(kinds)}")
        return value

    def required(self, key: str, kind: type[T]) -> T:
        if self.data.get(key) in (None, ""):
            raise ScenarioError(f"scenario: {self._name(key)} is required")
        return cast(T, self.get(key, kind, None))

    def strings(self, key: str, default: list[str]) -> list[str]:
        value = self.get(key, list, None)
        if value is None:
            return list(default)
        if not all(isinstance(v, str) for v in value):
            raise ScenarioError(f"scenario: {self._name(key)} must be a list of strings")
        return list(value)

    def non_negative(self, key: str, kind: type, default: Any) -> Any:
        value = self.get(key, kind, default)
        if value is not None and value < 0:
            raise ScenarioError(f"scenario: {self._name(key)} must not be negative")
        return value

    def table(self, key: str) -> _Reader:
        return _Reader(self.get(key, dict, {}), self._name(key))

    def done(self) -> None:
        if self.data:
            unknown = ", ".join(sorted(self._name(k) for k in self.data))
            raise ScenarioError(f"scenario: unknown key {unknown}")


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table/object",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def parse_app(data: Any, base: AppSettings | None = None) -> AppSettings:
    """App settings from a mapping; keys absent keep `base`'s values."""
    r = _Reader(data, "app")
    b = base or AppSettings()
    app = AppSettings(
        application_id=r.get("application_id", str, b.application_id),
        client_id=r.get("client_id", str, b.client_id),
        client_secret=r.get("client_secret", str, b.client_secret),
        redirect_uris=r.strings("redirect_uris", b.redirect_uris),
        draft=r.get("draft", bool, b.draft),
        accept_any_loopback_redirect=r.get(
            "accept_any_loopback_redirect", bool, b.accept_any_loopback_redirect
        ),
        refresh_token_lifetime_days=r.non_negative(
            "refresh_token_lifetime_days", int, b.refresh_token_lifetime_days
        ),
    )
    r.done()
    for uri in app.redirect_uris:
        if not uri.startswith(("https://", "http://")):
            raise ScenarioError(f"scenario: app.redirect_uris: {uri!r} is not an http(s) URL")
    return app


def parse_seller(
    data: Any, where: str = "seller", base: SellerSettings | None = None
) -> SellerSettings:
    """A seller from a mapping; with `base`, a partial update of that seller."""
    r = _Reader(data, where)
    if base is None:
        spid = r.required("selling_partner_id", str)
        region_text = r.required("region", str).strip().lower()
        if region_text not in REGIONS:
            raise ScenarioError(f"scenario: {where}.region must be one of: na, eu, fe")
        b = SellerSettings(spid, region_text, [])
        markets = r.strings("marketplaces", [])
    else:
        if r.data.get("selling_partner_id", base.selling_partner_id) != base.selling_partner_id:
            raise ScenarioError(f"scenario: {where}.selling_partner_id cannot change")
        r.get("selling_partner_id", str, None)
        if r.data.get("region", base.region) != base.region:
            raise ScenarioError(f"scenario: {where}.region cannot change; add a new seller")
        r.get("region", str, None)
        b = base
        markets = r.strings("marketplaces", base.marketplaces)
    codes: list[str] = []
    for code in markets:
        canonical = normalize_code(code)
        market = BY_CODE.get(canonical)
        if market is None:
            raise ScenarioError(
                f"scenario: {where}.marketplaces: {code!r} is not a marketplace code",
                hint=f"use one of: {valid_codes()}",
            )
        if market.region != b.region:
            raise ScenarioError(
                f"scenario: {where}.marketplaces: {canonical} is not in region {b.region}"
            )
        if canonical not in codes:
            codes.append(canonical)
    if not codes:
        raise ScenarioError(f"scenario: {where}.marketplaces must name at least one marketplace")
    roles = r.strings("roles", b.roles)
    for role in roles:
        if role not in ROLES:
            raise ScenarioError(
                f"scenario: {where}.roles: unknown role {role!r}", hint=f"use: {', '.join(ROLES)}"
            )
    seller = SellerSettings(
        selling_partner_id=b.selling_partner_id,
        region=b.region,
        marketplaces=codes,
        store_name=r.get("store_name", str, b.store_name) or f"Store {b.selling_partner_id}",
        roles=roles,
        extra_marketplace_ids=r.strings("extra_marketplace_ids", b.extra_marketplace_ids),
        inventory_items=r.non_negative("inventory_items", int, b.inventory_items),
        transactions=r.non_negative("transactions", int, b.transactions),
        search_terms_rows=r.non_negative("search_terms_rows", int, b.search_terms_rows),
        search_terms_bytes=r.non_negative("search_terms_bytes", int, b.search_terms_bytes),
        orders_rows=r.non_negative("orders_rows", int, b.orders_rows),
        returns_rows=r.non_negative("returns_rows", int, b.returns_rows),
        reimbursements_rows=r.non_negative("reimbursements_rows", int, b.reimbursements_rows),
        settlement_lines=r.non_negative("settlement_lines", int, b.settlement_lines),
        settlement_days=r.non_negative("settlement_days", int, b.settlement_days),
        refresh_tokens=r.strings("refresh_tokens", b.refresh_tokens),
    )
    r.done()
    return seller


def parse_consent(data: Any, base: ConsentSettings | None = None) -> ConsentSettings:
    """Consent settings; keys absent keep `base`'s values."""
    r = _Reader(data, "consent")
    b = base or ConsentSettings()
    value = ConsentSettings(
        signed_in_seller=r.get("signed_in_seller", str, b.signed_in_seller),
        auto_confirm=r.get("auto_confirm", bool, b.auto_confirm),
    )
    r.done()
    return value


def parse_rate_limits(data: Any, base: RateLimitSettings | None = None) -> RateLimitSettings:
    """Rate-limit settings; keys absent keep `base`'s values."""
    r = _Reader(data, "rate_limits")
    b = base or RateLimitSettings()
    value = RateLimitSettings(
        enabled=r.get("enabled", bool, b.enabled),
        scale=r.non_negative("scale", float, b.scale),
    )
    r.done()
    if value.scale == 0:
        raise ScenarioError("scenario: rate_limits.scale must be above 0 (use enabled = false)")
    return value


def parse_latency(data: Any, base: LatencySettings | None = None) -> LatencySettings:
    """Latency settings; keys absent keep `base`'s values."""
    r = _Reader(data, "latency")
    b = base or LatencySettings()
    default_ms = r.non_negative("default_ms", float, b.default_ms)
    prefixes = r.get("by_prefix", dict, b.by_prefix)
    by_prefix: dict[str, float] = {}
    for prefix, ms in prefixes.items():
        if isinstance(ms, bool) or not isinstance(ms, int | float) or ms < 0:
            raise ScenarioError(f"scenario: latency.by_prefix.{prefix} must be a number ≥ 0")
        if not str(prefix).startswith("/"):
            raise ScenarioError(f"scenario: latency.by_prefix: {prefix!r} must start with /")
        by_prefix[str(prefix)] = float(ms)
    r.done()
    return LatencySettings(default_ms=default_ms, by_prefix=by_prefix)


def parse_reports(data: Any, base: ReportSettings | None = None) -> ReportSettings:
    """Report lifecycle settings; keys absent keep `base`'s values."""
    r = _Reader(data, "reports")
    b = base or ReportSettings()
    outcomes = r.get("outcomes", dict, b.outcomes)
    for report_type, status in outcomes.items():
        if status not in REPORT_OUTCOMES:
            raise ScenarioError(
                f"scenario: reports.outcomes.{report_type} must be one of: "
                + ", ".join(REPORT_OUTCOMES)
            )
    error_details = r.get("error_details", dict, b.error_details)
    for report_type, text in error_details.items():
        if not isinstance(text, str) or not text:
            raise ScenarioError(f"scenario: reports.error_details.{report_type} must be a text")
    value = ReportSettings(
        polls_in_queue=r.non_negative("polls_in_queue", int, b.polls_in_queue),
        polls_in_progress=r.non_negative("polls_in_progress", int, b.polls_in_progress),
        seconds_in_queue=r.non_negative("seconds_in_queue", float, b.seconds_in_queue),
        seconds_in_progress=r.non_negative("seconds_in_progress", float, b.seconds_in_progress),
        outcomes=dict(outcomes),
        error_details=dict(error_details),
        document_chunk_delay_ms=r.non_negative(
            "document_chunk_delay_ms", float, b.document_chunk_delay_ms
        ),
        ready_documents=r.get("ready_documents", bool, b.ready_documents),
    )
    r.done()
    return value


DATA_KIOSK_OUTCOMES: tuple[str, ...] = ("DONE", "FATAL", "NO_DATA")


def parse_data_kiosk(data: Any, base: DataKioskSettings | None = None) -> DataKioskSettings:
    """Data Kiosk settings; keys absent keep `base`'s values."""
    r = _Reader(data, "data_kiosk")
    b = base or DataKioskSettings()
    outcome = r.get("outcome", str, b.outcome)
    if outcome is not None and outcome not in DATA_KIOSK_OUTCOMES:
        raise ScenarioError(
            "scenario: data_kiosk.outcome must be one of: " + ", ".join(DATA_KIOSK_OUTCOMES)
        )
    value = DataKioskSettings(
        queries_per_hour=r.non_negative("queries_per_hour", float, b.queries_per_hour),
        burst=r.non_negative("burst", int, b.burst),
        outcome=outcome,
        error_details=r.get("error_details", str, b.error_details),
    )
    r.done()
    if value.queries_per_hour <= 0 or value.burst < 1:
        raise ScenarioError("scenario: data_kiosk.queries_per_hour and burst must be positive")
    return value


def parse_data(data: Any, base: DataSettings | None = None) -> DataSettings:
    """Data placement settings; keys absent keep `base`'s values."""
    r = _Reader(data, "data")
    b = base or DataSettings()
    anchor = r.get("anchor", (str, datetime), b.anchor)
    if isinstance(anchor, datetime):  # TOML has a native datetime type
        anchor = anchor.isoformat()
    if anchor is not None:
        try:
            parse_iso(anchor)
        except ValueError:
            raise ScenarioError(
                f"scenario: data.anchor {anchor!r} is not an ISO 8601 date"
            ) from None
    value = DataSettings(
        anchor=anchor, history_days=r.non_negative("history_days", int, b.history_days)
    )
    r.done()
    if value.history_days == 0:
        raise ScenarioError("scenario: data.history_days must be at least 1")
    return value


def parse_pagination(data: Any, base: PaginationSettings | None = None) -> PaginationSettings:
    """Pagination settings; keys absent keep `base`'s values."""
    r = _Reader(data, "pagination")
    b = base or PaginationSettings()
    apis = r.strings("repeat_next_token", b.repeat_next_token)
    r.done()
    for api in apis:
        if api not in PAGED_APIS:
            raise ScenarioError(
                f"scenario: pagination.repeat_next_token: unknown API {api!r}",
                hint=f"use: {', '.join(PAGED_APIS)}",
            )
    return PaginationSettings(repeat_next_token=list(dict.fromkeys(apis)))


def parse_failure(data: Any, where: str = "failure") -> FailureRule:
    """One failure-injection rule."""
    r = _Reader(data, where)
    status = r.required("status", int)
    if not 100 <= status <= 599:
        raise ScenarioError(f"scenario: {where}.status must be an HTTP status code")
    retry_after = r.get("retry_after", (str, int, float), None)
    rule = FailureRule(
        status=status,
        count=r.non_negative("count", int, 1),
        path_prefix=r.get("path_prefix", str, "/"),
        method=(r.get("method", str, None) or None),
        retry_after=None if retry_after is None else _retry_after_text(retry_after),
        body=r.get("body", (dict, list, str), None),
        id=0,
    )
    r.data.pop("id", None)  # echoing a rule read back from the admin API is harmless
    r.done()
    if rule.count == 0:  # TOML has no null: 0 spells "every matching request"
        rule.count = None
    if rule.method:
        rule.method = rule.method.upper()
    if not rule.path_prefix.startswith("/"):
        raise ScenarioError(f"scenario: {where}.path_prefix must start with /")
    return rule


def _retry_after_text(value: str | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_scenario(data: Any) -> Scenario:
    """Build and validate a Scenario from its TOML/JSON mapping."""
    r = _Reader(data, "")
    sellers_raw = r.get("sellers", list, [])
    failures_raw = r.get("failures", list, [])
    scenario = Scenario(
        app=parse_app(r.get("app", dict, {})),
        consent=parse_consent(r.get("consent", dict, {})),
        rate_limits=parse_rate_limits(r.get("rate_limits", dict, {})),
        latency=parse_latency(r.get("latency", dict, {})),
        reports=parse_reports(r.get("reports", dict, {})),
        data_kiosk=parse_data_kiosk(r.get("data_kiosk", dict, {})),
        data=parse_data(r.get("data", dict, {})),
        pagination=parse_pagination(r.get("pagination", dict, {})),
    )
    r.done()
    seen: set[str] = set()
    for index, raw in enumerate(sellers_raw):
        seller = parse_seller(raw, f"sellers[{index}]")
        if seller.selling_partner_id in seen:
            raise ScenarioError(
                f"scenario: sellers[{index}]: duplicate selling_partner_id "
                f"{seller.selling_partner_id}"
            )
        seen.add(seller.selling_partner_id)
        scenario.sellers.append(seller)
    for index, raw in enumerate(failures_raw):
        rule = parse_failure(raw, f"failures[{index}]")
        rule.id = index + 1
        scenario.failures.append(rule)
    signed_in = scenario.consent.signed_in_seller
    if signed_in and signed_in not in seen:
        raise ScenarioError(f"scenario: consent.signed_in_seller {signed_in} is not a seller")
    return scenario


def load_scenario(path: Path) -> Scenario:
    """Read a scenario file (.toml or .json; other names are tried as JSON, then TOML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(
            f"cannot read scenario file {path}: {exc.strerror or exc}",
            hint="pass an existing file to --scenario",
        ) from None
    suffix = path.suffix.lower()
    data: Any
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            f"scenario file {path} is not valid JSON: {exc.msg} (line {exc.lineno})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario file {path} is not valid TOML: {exc}") from None
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc.message}", hint=exc.hint) from None
