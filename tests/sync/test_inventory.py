"""FBA inventory: full pull, increments, pagination, cursors in the same transaction as rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from soldscope_cli.amazon.spapi import SpapiBadRequest
from soldscope_cli.db.database import Database, from_db_time
from soldscope_cli.sync import inventory
from soldscope_cli.sync.base import INVENTORY, DatasetFailed, DatasetJob

from .conftest import NOW, Clock, FakeClient, make_store, rows, spapi_error, transient

US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"


def summary(sku: str, qty: int = 5, updated: str = "2026-11-20T10:00:00Z") -> dict[str, Any]:
    return {
        "asin": "B0" + sku[-8:].rjust(8, "0"),
        "fnSku": "X00" + sku[-7:],
        "sellerSku": sku,
        "condition": "NewItem",
        "lastUpdatedTime": updated,
        "productName": f"Product {sku}",
        "totalQuantity": qty + 3,
        "inventoryDetails": {
            "fulfillableQuantity": qty,
            "inboundWorkingQuantity": 1,
            "inboundShippedQuantity": 0,
            "inboundReceivingQuantity": 0,
            "reservedQuantity": {"totalReservedQuantity": 2},
            "researchingQuantity": {"totalResearchingQuantity": 0},
            "unfulfillableQuantity": {"totalUnfulfillableQuantity": 0},
        },
    }


def paged(pages: dict[str | None, tuple[list[dict[str, Any]], str | None]]) -> Callable[..., Any]:
    """A handler answering by nextToken with (items, next token)."""

    def handler(marketplace_id: str, start: Any, token: str | None) -> dict[str, Any]:
        items, nxt = pages[token]
        body: dict[str, Any] = {
            "payload": {
                "granularity": {"granularityType": "Marketplace"},
                "inventorySummaries": items,
            }
        }
        if nxt:
            body["pagination"] = {"nextToken": nxt}
        return body

    return handler


def test_full_pull_paginates_and_stores_typed_columns(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    client.inventory = paged(
        {None: ([summary("SKU-1"), summary("SKU-2")], "t2"), "t2": ([summary("SKU-3", 7)], None)}
    )
    outcome = inventory.sync(make_job())
    assert (outcome.rows_added, outcome.rows_updated) == (3, 0)
    calls = [kw for name, kw in client.calls if name == "getInventorySummaries"]
    assert [c["next_token"] for c in calls] == [None, "t2"]
    assert all(c["start_date_time"] is None and c["details"] is True for c in calls)
    got = rows(
        db,
        "SELECT store, marketplace_id, seller_sku, asin, fn_sku, condition, product_name,"
        " total_quantity, fulfillable_quantity, inbound_working_quantity, reserved_quantity,"
        " researching_quantity, unfulfillable_quantity, last_updated_time"
        " FROM inventory_summaries WHERE seller_sku = 'SKU-3'",
    )
    assert got == [
        (
            "acme-us",
            US,
            "SKU-3",
            "B0000SKU-3",
            "X00SKU-3",
            "NewItem",
            "Product SKU-3",
            10,
            7,
            1,
            2,
            0,
            0,
            "2026-11-20T10:00:00Z",
        )
    ]
    cursor = db.get_sync_state(db.store_id("acme-us"), INVENTORY, "cursor:" + US)
    assert cursor is not None
    assert from_db_time(cursor) == NOW - inventory.SAFETY_MARGIN


def test_increment_uses_cursor_updates_changed_rows_and_rerun_adds_nothing(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    client.inventory = paged({None: ([summary("SKU-1"), summary("SKU-2")], None)})
    inventory.sync(make_job())
    clock.advance(hours=6)
    client.inventory = paged({None: ([summary("SKU-2", qty=1), summary("SKU-9")], None)})
    outcome = inventory.sync(make_job())
    assert (outcome.rows_added, outcome.rows_updated) == (1, 1)
    second = [kw for name, kw in client.calls if name == "getInventorySummaries"][-1]
    assert second["start_date_time"] == NOW - inventory.SAFETY_MARGIN
    outcome = inventory.sync(make_job())
    assert (outcome.rows_added, outcome.rows_updated) == (0, 0)
    assert rows(db, "SELECT COUNT(*) FROM inventory_summaries") == [(3,)]
    assert rows(
        db, "SELECT fulfillable_quantity FROM inventory_summaries WHERE seller_sku = 'SKU-2'"
    ) == [(1,)]


def test_cursor_does_not_move_when_a_later_page_fails(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    def handler(marketplace_id: str, start: Any, token: str | None) -> dict[str, Any]:
        if token is None:
            return {
                "payload": {"inventorySummaries": [summary("SKU-1")]},
                "pagination": {"nextToken": "t2"},
            }
        raise transient("getInventorySummaries")

    client.inventory = handler
    with pytest.raises(Exception, match="ServiceUnavailable"):
        inventory.sync(make_job())
    # Page one is stored (upserts make repeating it harmless) but the cursor stays unset, so the
    # next run pulls everything again: nothing is skipped.
    assert rows(db, "SELECT COUNT(*) FROM inventory_summaries") == [(1,)]
    assert db.get_sync_state(db.store_id("acme-us"), INVENTORY, "cursor:" + US) is None


def test_expired_next_token_restarts_the_marketplace_once(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    attempts = {"n": 0}

    def handler(marketplace_id: str, start: Any, token: str | None) -> dict[str, Any]:
        if token is None:
            attempts["n"] += 1
            return {
                "payload": {"inventorySummaries": [summary("SKU-1")]},
                "pagination": {"nextToken": "t2"},
            }
        if attempts["n"] == 1:
            raise spapi_error(SpapiBadRequest, 400, "InvalidInput", "nextToken expired")
        return {"payload": {"inventorySummaries": [summary("SKU-2")]}}

    client.inventory = handler
    outcome = inventory.sync(make_job())
    assert attempts["n"] == 2
    assert outcome.rows_added == 2
    assert db.get_sync_state(db.store_id("acme-us"), INVENTORY, "cursor:" + US) is not None


def test_bad_request_on_the_first_page_is_not_retried(
    make_job: Callable[..., DatasetJob], client: FakeClient
) -> None:
    def handler(marketplace_id: str, start: Any, token: str | None) -> dict[str, Any]:
        raise spapi_error(SpapiBadRequest, 400, "InvalidInput", "bad marketplace")

    client.inventory = handler
    with pytest.raises(SpapiBadRequest):
        inventory.sync(make_job())
    assert client.names() == ["getInventorySummaries"]


def test_each_marketplace_has_its_own_cursor(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    client.inventory = lambda mkt, start, token: {
        "payload": {"inventorySummaries": [summary("SKU-" + mkt[:4])]}
    }
    inventory.sync(make_job(store=make_store(marketplaces=["US", "CA"])))
    keys = db.sync_state(db.store_id("acme-us"), INVENTORY, "cursor:")
    assert set(keys) == {"cursor:" + US, "cursor:" + CA}
    assert rows(db, "SELECT marketplace_id FROM inventory_summaries ORDER BY 1") == [(CA,), (US,)]


def test_a_cursor_older_than_18_months_means_a_full_pull(
    make_job: Callable[..., DatasetJob], client: FakeClient, clock: Clock
) -> None:
    client.inventory = paged({None: ([summary("SKU-1")], None)})
    inventory.sync(make_job())
    clock.advance(days=600)
    outcome = inventory.sync(make_job())
    last = [kw for name, kw in client.calls if name == "getInventorySummaries"][-1]
    assert last["start_date_time"] is None
    assert any("full pull" in n.text for n in outcome.notes)


def test_items_without_a_seller_sku_are_ignored(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    bad = summary("SKU-1")
    del bad["sellerSku"]
    client.inventory = paged({None: ([bad, summary("SKU-2"), "garbage"], None)})  # type: ignore[list-item]
    outcome = inventory.sync(make_job())
    assert outcome.rows_added == 1
    assert rows(db, "SELECT seller_sku FROM inventory_summaries") == [("SKU-2",)]


def test_cursor_margin_covers_changes_during_the_pull(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    def slow(marketplace_id: str, start: Any, token: str | None) -> dict[str, Any]:
        clock.advance(seconds=20)
        return {"payload": {"inventorySummaries": [summary("SKU-1")]}}

    client.inventory = slow
    inventory.sync(make_job())
    cursor = from_db_time(
        db.get_sync_state(db.store_id("acme-us"), INVENTORY, "cursor:" + US) or ""
    )
    # Anchored to when the pull started, not when it ended.
    assert cursor == NOW - inventory.SAFETY_MARGIN
    assert timedelta(minutes=5) <= inventory.SAFETY_MARGIN


def test_a_weekly_full_pull_removes_items_amazon_no_longer_lists(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    client.inventory = paged({None: ([summary("SKU-1"), summary("SKU-2"), summary("SKU-3")], None)})
    inventory.sync(make_job())
    clock.advance(days=2)
    client.inventory = paged({None: ([summary("SKU-2", qty=9)], None)})
    inventory.sync(make_job())  # an increment: changed items only, nothing removed
    assert rows(db, "SELECT COUNT(*) FROM inventory_summaries") == [(3,)]
    clock.advance(days=6)
    client.inventory = paged({"p2": ([summary("SKU-3")], None), None: ([summary("SKU-2")], "p2")})
    outcome = inventory.sync(make_job())
    calls = [kw for name, kw in client.calls if name == "getInventorySummaries"]
    assert calls[-2]["start_date_time"] is None  # eight days after the last full pull
    assert rows(db, "SELECT seller_sku FROM inventory_summaries ORDER BY 1") == [
        ("SKU-2",),
        ("SKU-3",),
    ]
    assert any("1 item(s) no longer listed" in n.text for n in outcome.notes)


def test_removal_happens_only_when_the_full_pull_completed(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    client.inventory = paged({None: ([summary("SKU-1"), summary("SKU-2")], None)})
    inventory.sync(make_job())
    clock.advance(days=8)

    def first_page_then_fail(marketplace_id: str, start: Any, token: str | None) -> Any:
        if token is None:
            return paged({None: ([summary("SKU-1")], "p2")})(marketplace_id, start, token)
        raise transient()

    client.inventory = first_page_then_fail
    with pytest.raises(Exception):  # noqa: B017 - whichever error the runner maps it to
        inventory.sync(make_job())
    assert rows(db, "SELECT COUNT(*) FROM inventory_summaries") == [(2,)]


def endless(
    next_token: Callable[[str | None], str], limit: int = 40
) -> Callable[..., dict[str, Any]]:
    """A handler that never ends its pagination (a safety net stops the test, not the sync)."""
    served = {"n": 0}

    def handler(marketplace_id: str, start: Any, token: str | None) -> dict[str, Any]:
        served["n"] += 1
        assert served["n"] <= limit, "the sync kept paging"
        return {
            "payload": {"inventorySummaries": [summary(f"SKU-{served['n']}")]},
            "pagination": {"nextToken": next_token(token)},
        }

    return handler


def test_a_repeated_next_token_fails_the_dataset_instead_of_paging_forever(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database
) -> None:
    # Amazon has answered a page with the very token it was asked with (a loop without end).
    client.inventory = endless(lambda token: "same-token")
    with pytest.raises(DatasetFailed) as failed:
        inventory.sync(make_job())
    assert failed.value.code == "repeated_next_token"
    assert "same nextToken" in failed.value.message
    assert US in failed.value.message
    assert [kw["next_token"] for _, kw in client.calls] == [None, "same-token"]
    # What was read stays stored; the cursor stays where it was, so nothing is skipped.
    assert rows(db, "SELECT COUNT(*) FROM inventory_summaries") == [(2,)]
    assert db.get_sync_state(db.store_id("acme-us"), INVENTORY, "cursor:" + US) is None


def test_a_token_cycle_is_a_repeated_token_too(
    make_job: Callable[..., DatasetJob], client: FakeClient
) -> None:
    client.inventory = endless(lambda token: {None: "a", "a": "b", "b": "a"}[token])
    with pytest.raises(DatasetFailed) as failed:
        inventory.sync(make_job())
    assert failed.value.code == "repeated_next_token"
    assert [kw["next_token"] for _, kw in client.calls] == [None, "a", "b"]


def test_pages_past_the_dataset_cap_fail_it(
    make_job: Callable[..., DatasetJob], client: FakeClient
) -> None:
    fresh = iter(range(1000))
    client.inventory = endless(lambda token: f"t{next(fresh)}")
    with pytest.raises(DatasetFailed) as failed:
        inventory.sync(make_job(max_pages=5))
    assert failed.value.code == "page_limit"
    assert "5 pages" in failed.value.message
    assert len(client.calls) == 5


def test_a_dataset_past_its_time_cap_fails(
    make_job: Callable[..., DatasetJob], client: FakeClient, clock: Clock
) -> None:
    fresh = iter(range(1000))

    def slow(token: str | None) -> str:
        clock.advance(minutes=20)  # each page takes 20 minutes of the injected clock
        return f"t{next(fresh)}"

    client.inventory = endless(slow)
    job = make_job(max_seconds=3600, monotonic=clock.monotonic)
    with pytest.raises(DatasetFailed) as failed:
        inventory.sync(job)
    assert failed.value.code == "time_limit"
    assert "1 h" in failed.value.message
    assert len(client.calls) == 3


def test_a_nul_character_from_amazon_is_stripped_and_both_engines_store_the_same(
    make_job: Callable[..., DatasetJob], client: FakeClient, db: Database, clock: Clock
) -> None:
    # PostgreSQL's text and jsonb cannot hold U+0000: one such string used to fail the dataset on
    # every run. It is dropped before storing, on SQLite too, so both engines keep the same text.
    item = summary("SKU-\x001")
    item["productName"] = "Tent\x00 2-person"
    item["fnSku"] = "\x00"
    client.inventory = paged({None: ([item], None)})
    outcome = inventory.sync(make_job())
    assert outcome.rows_added == 1
    [(sku, name, fn_sku, raw)] = rows(
        db, "SELECT seller_sku, product_name, fn_sku, raw FROM inventory_summaries"
    )
    assert (sku, name, fn_sku) == ("SKU-1", "Tent 2-person", "")
    stored = raw if isinstance(raw, dict) else json.loads(raw)
    assert stored["productName"] == "Tent 2-person" and stored["sellerSku"] == "SKU-1"
    # An error message carrying one (Amazon's words go into sync_runs) is stored as well.
    run = db.start_sync_run("acme-us", INVENTORY, clock(), store_id=db.store_id("acme-us"))
    db.finish_sync_run(run, clock(), "failed", error_message="bad\x00 input")
    assert rows(db, "SELECT error_message FROM sync_runs WHERE error_message IS NOT NULL") == [
        ("bad input",)
    ]
