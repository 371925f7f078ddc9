"""`soldscope validate` through the CLI: JSON shape, table, exit codes, options, messages."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import NOW
from tests.unit.test_health import (
    CLIENT_SECRET,
    FORBIDDEN,
    INVALID_GRANT,
    UNAVAILABLE,
    Seller,
    add,
    amazon_harness,
    token_of,
)

LIST_KEYS = [
    "name",
    "region",
    "marketplaces",
    "selling_partner_id",
    "status",
    "authorized_at",
    "expires_at",
    "days_left",
    "last_checked_at",
    "last_sync_at",
    "error",
]


def test_json_is_the_list_shape_plus_a_check_object(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    h, fake = amazon_harness(tmp_path)
    add(h, fake, "acme-us", seller="A1SELLER", authorized_at=NOW - timedelta(days=10))
    result = invoke(h, "validate", "--json")
    assert result.exit_code == 0, h.stderr
    data = json.loads(h.stdout)
    assert data == [
        {
            "name": "acme-us",
            "region": "na",
            "marketplaces": ["US"],
            "selling_partner_id": "A1SELLER",
            "status": "active",
            "authorized_at": "2026-11-19T12:00:00Z",
            "expires_at": "2027-11-19T12:00:00Z",
            "days_left": 355,
            "last_checked_at": "2026-11-29T12:00:00Z",
            "last_sync_at": None,
            "error": None,
            "check": {"outcome": "ok", "reason": None, "request_id": "req-456789-1"},
        }
    ]
    # The `list` keys, in order, unchanged; "check" is only added.
    assert list(data[0])[:-1] == LIST_KEYS
    assert h.stderr == ""  # piped: no progress, nothing but the result
    listed = invoke(h, "list", "--json")
    assert [{k: v for k, v in d.items() if k != "check"} for d in data] == json.loads(h.stdout)
    assert listed.exit_code == 0


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize(
    ("seller", "code"),
    [
        (Seller(), 0),
        (Seller(lwa_always=INVALID_GRANT), 1),
        (Seller(spapi_always=FORBIDDEN), 1),
        (Seller(spapi_always=UNAVAILABLE), 3),
    ],
    ids=["healthy", "revoked", "forbidden", "unavailable"],
)
def test_exit_codes(
    tmp_path: Path, invoke: Callable[..., Any], seller: Seller, code: int, as_json: bool
) -> None:
    h, fake = amazon_harness(tmp_path)
    add(h, fake, "acme-us", seller)
    add(h, fake, "acme-ca", marketplaces=["CA"])
    fake.sellers[token_of("acme-ca")].payload[0]["marketplace"]["id"] = "A2EUQ1WTGCTBG2"
    args = ["validate", "--json"] if as_json else ["validate"]
    assert invoke(h, *args).exit_code == code


def test_expired_store_exits_1_even_when_amazon_still_answers(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    h, fake = amazon_harness(tmp_path)
    add(h, fake, "old", authorized_at=NOW - timedelta(days=400))
    assert invoke(h, "validate").exit_code == 1


def test_table_shows_the_reason_and_request_id(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    h, fake = amazon_harness(tmp_path)
    add(h, fake, "denied", Seller(spapi_always=FORBIDDEN))
    add(h, fake, "flaky", Seller(spapi_always=UNAVAILABLE))
    result = invoke(h, "validate")
    assert result.exit_code == 1
    out = h.stdout
    assert "denied  na" in out and "Error" in out
    assert "forbidden: Access to requested resource is denied." in out
    assert "2 stores: 1 active, 1 error" in out
    details = [line for line in out.splitlines() if line.startswith(("denied:", "flaky:"))]
    assert details[0].startswith("denied: problem: forbidden: Access to requested resource")
    assert "[request id req-" in details[0]
    assert details[1].startswith("flaky: incomplete: ServiceUnavailable: HTTP 503")
    assert "could not complete" in h.stderr


def test_app_failure_is_reported_once(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    h, fake = amazon_harness(tmp_path, env={"SOLDSCOPE_LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.gone"})
    for i in range(5):
        add(h, fake, f"store-{i}")
    result = invoke(h, "validate", "--json")
    assert result.exit_code == 1
    message = (
        "LWA rejected the app's client credentials — rotate the secret: "
        "soldscope app set --client-secret-stdin"
    )
    assert h.stderr.count(message) == 1
    assert {d["status"] for d in json.loads(h.stdout)} == {"active"}
    assert CLIENT_SECRET not in h.stdout + h.stderr


def test_unknown_name_is_a_usage_error_before_any_request(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    h, fake = amazon_harness(tmp_path)
    add(h, fake, "acme-us")
    result = invoke(h, "validate", "acme-us", "nope")
    assert result.exit_code == 2
    assert "no store named 'nope'" in h.stderr
    assert fake.requests == 0


def test_names_select_stores(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    h, fake = amazon_harness(tmp_path)
    add(h, fake, "one")
    add(h, fake, "two")
    assert invoke(h, "validate", "two", "--json").exit_code == 0
    assert [d["name"] for d in json.loads(h.stdout)] == ["two"]
    assert fake.lwa_calls == [token_of("two")]


@pytest.mark.parametrize("value", ["0", "65", "many"])
def test_concurrency_out_of_range_is_a_usage_error(
    tmp_path: Path, invoke: Callable[..., Any], value: str
) -> None:
    h, _ = amazon_harness(tmp_path)
    assert invoke(h, "validate", "--concurrency", value).exit_code == 2


def test_concurrency_option_reaches_the_pool(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    h, fake = amazon_harness(tmp_path)
    for i in range(8):
        add(h, fake, f"s-{i}")
    fake.barrier = threading.Barrier(4, timeout=10)
    assert invoke(h, "validate", "--concurrency", "4").exit_code == 0
    assert fake.max_in_flight == 4
    fake.barrier = None
    fake.max_in_flight = 0
    assert invoke(h, "validate", "--concurrency", "1").exit_code == 0
    assert fake.max_in_flight == 1


def test_no_stores(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    h, fake = amazon_harness(tmp_path)
    assert invoke(h, "validate").exit_code == 0
    assert "soldscope connect" in h.stderr and fake.requests == 0


def test_progress_goes_to_stderr_on_a_terminal(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    h, fake = amazon_harness(tmp_path, tty=True)
    add(h, fake, "acme-us")
    assert invoke(h, "validate").exit_code == 0
    assert "acme-us" in h.stdout and "Active" in h.stdout
    assert "checking" in h.stderr
