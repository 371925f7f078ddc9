"""`soldscope connect --refresh-token-stdin`: prove the token live, then store it (or nothing)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import NOW, Harness
from tests.unit.test_health import (
    CLIENT_SECRET,
    FORBIDDEN,
    INVALID_GRANT,
    UNAVAILABLE,
    FakeAmazon,
    Seller,
    amazon_harness,
    participation,
    token_of,
)

from soldscope_cli.db.database import CHECK_OK, CheckRecord
from soldscope_cli.fleet.secrets import token_key

TOKEN = token_of("acme-us")


def connect(
    h: Harness, invoke: Callable[..., Any], *args: str, token: str = TOKEN
) -> tuple[int, str, str]:
    h.ctx.stdin.seek(0)
    h.ctx.stdin.truncate(0)
    h.ctx.stdin.write(token + "\n")
    h.ctx.stdin.seek(0)
    result = invoke(h, "connect", *args)
    return result.exit_code, h.stdout, h.stderr


def nothing_stored(h: Harness, name: str = "acme-us") -> bool:
    config = h.ctx.config(reload=True)
    return name not in config.stores and h.secrets.get(token_key(name)) is None


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Harness, FakeAmazon]:
    h, fake = amazon_harness(tmp_path)
    fake.add(TOKEN, Seller(payload=[participation("US"), participation("CA")]))
    return h, fake


def test_import_proves_then_stores(
    setup: tuple[Harness, FakeAmazon], invoke: Callable[..., Any]
) -> None:
    h, _ = setup
    code, out, err = connect(
        h,
        invoke,
        "acme-us",
        "--marketplace",
        "us",
        "--marketplace",
        "CA",
        "--refresh-token-stdin",
        "--selling-partner-id",
        "A1SELLER0001",
    )
    assert code == 0, err
    record = h.ctx.config(reload=True).stores["acme-us"]
    assert (record.region, record.marketplaces, record.selling_partner_id) == (
        "na",
        ["US", "CA"],
        "A1SELLER0001",
    )
    assert record.self_authorized and not record.region_wide
    assert record.authorized_at == NOW
    assert h.secrets.get(token_key("acme-us")) == TOKEN
    checks = h.ctx.database().checks("acme-us")
    assert [(c["source"], c["outcome"]) for c in checks] == [("connect", CHECK_OK)]
    assert checks[0]["request_id"].startswith("req-")
    assert "acme-us" in out and "Active" in out
    assert "Connected acme-us (na: US, CA)" in err
    assert TOKEN not in out + err and CLIENT_SECRET not in out + err
    events = [e["kind"] for e in h.ctx.database().events("acme-us")]
    assert events == ["connected", "token_written"]  # newest first: the ledger named the token


@pytest.mark.parametrize(
    ("behaviour", "marketplaces", "code", "text"),
    [
        (Seller(lwa_always=INVALID_GRANT), ["US"], 1, "invalid_grant"),
        (Seller(spapi_always=FORBIDDEN), ["US"], 1, "Access to requested resource is denied"),
        (Seller(), ["US", "MX"], 1, "not participating in MX"),
        (Seller(spapi_always=UNAVAILABLE), ["US"], 3, "could not verify the token"),
    ],
    ids=["revoked", "forbidden", "mismatch", "unavailable"],
)
def test_a_token_amazon_does_not_accept_stores_nothing(
    tmp_path: Path,
    invoke: Callable[..., Any],
    behaviour: Seller,
    marketplaces: list[str],
    code: int,
    text: str,
) -> None:
    h, fake = amazon_harness(tmp_path)
    fake.add(TOKEN, behaviour)
    args = [arg for m in marketplaces for arg in ("--marketplace", m)]
    exit_code, _, err = connect(h, invoke, "acme-us", *args, "--refresh-token-stdin")
    assert (exit_code, text in err, "nothing was stored" in err) == (code, True, True)
    assert nothing_stored(h)
    assert not h.ctx.paths.database.exists() or h.ctx.database().checks("acme-us") == []


def test_rejected_app_credentials_store_nothing(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    h, fake = amazon_harness(tmp_path, env={"SOLDSCOPE_LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.x"})
    fake.add(TOKEN)
    code, _, err = connect(h, invoke, "acme-us", "--marketplace", "US", "--refresh-token-stdin")
    assert code == 1 and "soldscope app set --client-secret-stdin" in err
    assert nothing_stored(h)


def test_region_discovers_the_marketplaces(tmp_path: Path, invoke: Callable[..., Any]) -> None:
    h, fake = amazon_harness(tmp_path)
    payload = [participation("DE"), participation("A2ZV50J4W1RKNI"), participation("FR")]
    fake.add(TOKEN, Seller(payload=payload))
    code, _, err = connect(h, invoke, "acme-eu", "--region", "EU", "--refresh-token-stdin")
    assert code == 0, err
    record = h.ctx.config(reload=True).stores["acme-eu"]
    assert (record.region, record.marketplaces, record.region_wide) == ("eu", ["DE", "FR"], True)


def test_region_without_any_participation_stores_nothing(
    tmp_path: Path, invoke: Callable[..., Any]
) -> None:
    h, fake = amazon_harness(tmp_path)
    fake.add(TOKEN, Seller(payload=[participation("US")]))
    code, _, err = connect(h, invoke, "acme-eu", "--region", "eu", "--refresh-token-stdin")
    assert code == 1 and "no marketplace of region eu" in err
    assert nothing_stored(h, "acme-eu")


def test_existing_name_is_renewed_in_place(
    setup: tuple[Harness, FakeAmazon], invoke: Callable[..., Any]
) -> None:
    h, _ = setup
    h.add_store(
        "acme-us",
        marketplaces=["US"],
        authorized_at=NOW - timedelta(days=300),
        seller="A1SELLER0001",
        token="Atzr|old-token-value",
    )
    h.ctx.database().record_check(
        CheckRecord(
            "acme-us", NOW - timedelta(days=1), "validate", "problem", "invalid_grant", "revoked"
        )
    )
    code, _, err = connect(h, invoke, "acme-us", "--refresh-token-stdin")
    assert code == 0, err
    record = h.ctx.config(reload=True).stores["acme-us"]
    assert (record.marketplaces, record.selling_partner_id, record.authorized_at) == (
        ["US"],
        "A1SELLER0001",
        NOW,
    )
    assert h.secrets.get(token_key("acme-us")) == TOKEN
    assert [c["outcome"] for c in h.ctx.database().checks("acme-us")] == ["problem", "ok"]
    assert "Renewed acme-us" in err
    assert h.ctx.database().events("acme-us")[0]["kind"] == "reauthorized"


def test_same_seller_in_the_same_region_under_another_name_is_refused(
    setup: tuple[Harness, FakeAmazon], invoke: Callable[..., Any]
) -> None:
    h, fake = setup
    h.add_store("acme", seller="A1SELLER0001")
    code, _, err = connect(
        h,
        invoke,
        "acme-us",
        "--marketplace",
        "US",
        "--selling-partner-id",
        "A1SELLER0001",
        "--refresh-token-stdin",
    )
    assert code == 2 and "already connected as 'acme'" in err
    assert fake.requests == 0 and nothing_stored(h)


@pytest.mark.parametrize(
    ("args", "token", "text"),
    [
        (["acme-us", "--marketplace", "US"], TOKEN, "missing redirect URI"),
        (["acme-us", "--refresh-token-stdin"], TOKEN, "no marketplace given"),
        (["acme-us", "--marketplace", "US", "--refresh-token-stdin"], "", "no refresh token"),
        (["acme-us", "--marketplace", "US", "--refresh-token-stdin"], "Atza|access", "Atzr|"),
        (["acme-us", "--marketplace", "US", "--refresh-token-stdin"], "Atzr|a b", "one word"),
        (
            ["acme-us", "--marketplace", "US", "--region", "na", "--refresh-token-stdin"],
            TOKEN,
            "exclude each other",
        ),
        (
            ["acme-us", "--marketplace", "US", "--marketplace", "DE", "--refresh-token-stdin"],
            TOKEN,
            "more than one region",
        ),
        (["Bad Name", "--marketplace", "US", "--refresh-token-stdin"], TOKEN, "invalid store name"),
        (["acme-us", "--region", "asia", "--refresh-token-stdin"], TOKEN, "unknown region"),
        (
            [
                "acme-us",
                "--marketplace",
                "US",
                "--authorized-at",
                "yesterday",
                "--refresh-token-stdin",
            ],
            TOKEN,
            "not a date",
        ),
        (
            [
                "acme-us",
                "--marketplace",
                "US",
                "--authorized-at",
                "2027-01-01",
                "--refresh-token-stdin",
            ],
            TOKEN,
            "in the future",
        ),
    ],
)
def test_usage_errors_touch_nothing(
    setup: tuple[Harness, FakeAmazon],
    invoke: Callable[..., Any],
    args: list[str],
    token: str,
    text: str,
) -> None:
    h, fake = setup
    code, _, err = connect(h, invoke, *args, token=token)
    assert (code, text in err) == (2, True), err
    assert fake.requests == 0 and nothing_stored(h)
    assert "Atza|access" not in err


def test_authorized_at_counts_the_365_days(
    setup: tuple[Harness, FakeAmazon], invoke: Callable[..., Any]
) -> None:
    h, _ = setup
    code, out, _ = connect(
        h,
        invoke,
        "acme-us",
        "--marketplace",
        "US",
        "--authorized-at",
        "2025-12-20",
        "--refresh-token-stdin",
    )
    assert code == 0
    record = h.ctx.config(reload=True).stores["acme-us"]
    assert record.authorized_at == datetime(2025, 12, 20, tzinfo=UTC)
    assert "2026-12-20" in out and "Expiring Soon" in out


def test_an_old_authorized_at_is_stored_but_said_expired_and_exits_1(
    setup: tuple[Harness, FakeAmazon], invoke: Callable[..., Any]
) -> None:
    h, _ = setup
    code, out, err = connect(
        h,
        invoke,
        "acme-us",
        "--marketplace",
        "US",
        "--authorized-at",
        "2025-10-01",
        "--refresh-token-stdin",
    )
    assert code == 1, err
    assert "the token works" not in err
    assert "its authorization expired on 2026-10-01" in err
    assert "self-authorize the app again and import the new token: soldscope connect acme-us" in err
    assert "Expired" in out
    assert h.secrets.get(token_key("acme-us")) == TOKEN  # stored: list and doctor show it expired


def test_an_authorized_at_close_to_a_year_says_when_to_renew(
    setup: tuple[Harness, FakeAmazon], invoke: Callable[..., Any]
) -> None:
    h, _ = setup
    code, _, err = connect(
        h,
        invoke,
        "acme-us",
        "--marketplace",
        "US",
        "--authorized-at",
        "2025-12-20",
        "--refresh-token-stdin",
    )
    assert code == 0
    assert "expires on 2026-12-20 (21 days left)" in err
