"""The engine contract, on SQLite and on PostgreSQL: what every caller relies on either way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.conftest import query, reopen

from soldscope_cli.db.database import (
    CHECK_INCOMPLETE,
    CHECK_OK,
    CHECK_PROBLEM,
    CheckRecord,
    StoreDeleted,
)
from soldscope_cli.db.interface import Database
from soldscope_cli.db.model import FinanceRow, InventoryRow, NewInvitation, RateBucket

T0 = datetime(2026, 6, 1, tzinfo=UTC)
US = "ATVPDKIKX0DER"


@pytest.fixture
def db(make_db: Callable[..., Any]) -> Database:
    database: Database = make_db()
    return database


def check(store: str, outcome: str, at: datetime, code: str | None = None) -> CheckRecord:
    return CheckRecord(store, at, "validate", outcome, code, "msg" if code else None, "req-1")


def inventory_row(sku: str, raw: str = '{"x": 1}') -> InventoryRow:
    return InventoryRow(
        sku, "B1", None, None, None, 1, None, None, None, None, None, None, None, None, raw
    )


def test_the_latest_conclusive_check_decides_the_problem(db: Database) -> None:
    db.record_check(check("a", CHECK_PROBLEM, T0, "forbidden"))
    db.record_check(check("a", CHECK_INCOMPLETE, T0 + timedelta(hours=1), "transient"))
    db.record_check(check("b", CHECK_PROBLEM, T0, "invalid_grant"))
    db.record_check(check("b", CHECK_OK, T0 + timedelta(hours=2)))
    states = db.states()
    problem = states["a"].problem
    assert problem is not None and (problem.code, problem.request_id) == ("forbidden", "req-1")
    assert problem.found_at == T0
    assert states["a"].last_checked_at == T0 + timedelta(hours=1)
    assert states["b"].problem is None
    assert db.states(["a", "nobody"])["nobody"].last_checked_at is None
    assert db.peek_states(["b"]) == {"b": states["b"]}


def test_the_last_sync_is_the_latest_successful_run(db: Database) -> None:
    run = db.start_sync_run("a", "inventory", T0)
    db.finish_sync_run(run, T0 + timedelta(minutes=1), "ok", rows_added=3)
    failed = db.start_sync_run("a", "finances", T0 + timedelta(hours=1))
    db.finish_sync_run(failed, T0 + timedelta(hours=1, minutes=1), "failed", 0, 0, "E", "boom")
    assert db.states()["a"].last_sync_at == T0 + timedelta(minutes=1)
    [entry] = db.history(None)
    assert (entry.kind, entry.detail["code"], entry.detail["message"]) == (
        "sync_failed",
        "E",
        "boom",
    )


def test_a_check_and_its_event_roll_back_together(db: Database) -> None:
    store_id = db.store_id("a")
    with pytest.raises(ValueError, match="boom"), db.store_transaction(store_id) as tx:
        db.record_check(check("a", CHECK_OK, T0), tx=tx)
        db.log_event("checked", T0, "a", {"outcome": "ok"}, tx=tx)
        raise ValueError("boom")
    assert db.checks("a") == [] and db.history(None, checks=True) == []


def test_events_and_checks_read_back_as_the_sqlite_rows_do(db: Database) -> None:
    db.connect_store(
        "a", T0, event="connected", selling_partner_id="A1", region="na", detail={"k": [1]}
    )
    db.record_check(check("a", CHECK_OK, T0))
    [event] = db.events("a")  # type: ignore[attr-defined]
    assert (event["kind"], event["detail"], event["at"]) == (
        "connected",
        '{"k": [1]}',
        "2026-06-01T00:00:00.000000Z",
    )
    [row] = db.checks("a")  # type: ignore[attr-defined]
    assert (row["outcome"], row["checked_at"][:10]) == ("ok", "2026-06-01")


def test_a_renewal_keeps_the_id_and_a_reused_name_starts_empty(db: Database) -> None:
    first = db.connect_store("a", T0, event="connected", selling_partner_id="A1", region="na")
    again = db.connect_store("a", T0, event="reauthorized", selling_partner_id="A1", region="na")
    assert first == again
    db.record_check(check("a", CHECK_PROBLEM, T0, "forbidden"))
    db.delete_store("a", T0 + timedelta(days=1))
    assert db.live_store_id("a") is None
    new = db.connect_store("a", T0, event="connected", selling_partner_id="A2", region="eu")
    assert new != first and db.connections_named("a") == [first, new]
    assert db.states(["a"])["a"].problem is None
    assert db.store_names() == ["a"] and db.store_name(first) == "a"


def test_purge_removes_a_stores_rows_and_keeps_the_event_log(db: Database) -> None:
    db.record_check(check("a", CHECK_OK, T0))
    db.record_check(check("b", CHECK_OK, T0))
    db.log_event("connected", T0, "a")
    a = db.store_id("a")
    db.update_sync_state(a, "inventory", T0, set_={"cursor": "x"})
    db.inventory.write_page(a, US, [inventory_row("S1"), inventory_row("S2")], at=T0)
    db.save_rate_buckets(a, [RateBucket("getInventorySummaries", 1.0, 2.0, T0)])
    removed = db.delete_store("a", T0, purge_tables=["inventory_summaries"])
    assert removed == 5  # a check, a sync_state row, a quota bucket and two inventory rows
    assert db.checks("a") == [] and len(db.checks("b")) == 1  # type: ignore[attr-defined]
    assert db.get_sync_state(a, "inventory", "cursor") is None
    assert db.rate_buckets(a) == []
    assert [e.kind for e in db.history([a])] == ["deleted", "connected"]
    with pytest.raises(ValueError, match="not a store table"):
        db.delete_store("b", T0, purge_tables=["events"])


def test_every_write_for_a_deleted_store_is_refused(db: Database) -> None:
    store_id = db.store_id("a")
    db.delete_store("a", T0)
    with pytest.raises(StoreDeleted):
        db.inventory.write_page(store_id, US, [inventory_row("S1")], at=T0)
    with pytest.raises(StoreDeleted):
        db.update_sync_state(store_id, "finances", T0, set_={"cursor": "x"})
    with pytest.raises(StoreDeleted):
        db.search_terms.start_load(store_id, US, "2026-05-24", "R1", T0)
    assert query(db, "SELECT COUNT(*) FROM inventory_summaries") == [(0,)]


@pytest.mark.parametrize("gone", ["deleted", "never existed"])
def test_bulk_rows_for_a_store_that_is_not_live_are_refused(db: Database, gone: str) -> None:
    # order_items and settlement_lines check no foreign key on PostgreSQL (a per-row trigger):
    # the store's live row, held while the rows are written, is what keeps them out.
    store_id = db.store_id("a")
    if gone == "deleted":
        db.delete_store("a", T0)
    else:
        store_id += 1000
    orders = db.dataset_table("orders")
    line = ("111-1", "S1", None, None, "Shipped", "Amazon", "Amazon.de", "A1PA6795UKMFR9", "S1",
            "B0X", "Shipped", 1, "1.00", None, None, "EUR")  # fmt: skip
    whole = (store_id, "a", *line, "2026-06-01T00:00:00.000000Z")
    with pytest.raises(StoreDeleted):
        orders.load_rows(store_id, [line], at=T0)
    with pytest.raises(StoreDeleted):
        orders.load_rows(store_id, [whole], at=T0, whole=True)
    assert query(db, "SELECT COUNT(*) FROM order_items") == [(0,)]


def test_a_failed_delete_leaves_the_store_as_it_was(db: Database) -> None:
    db.record_check(check("a", CHECK_OK, T0))
    with pytest.raises(RuntimeError), db.deleting_store("a", T0, purge_tables=["checks"]) as n:
        assert n == 1
        raise RuntimeError("the config could not be written")
    assert db.live_store_id("a") is not None and len(db.checks("a")) == 1  # type: ignore[attr-defined]


def test_pages_count_added_and_updated_and_carry_their_cursor(db: Database) -> None:
    store_id = db.store_id("a")
    rows = [inventory_row("S1"), inventory_row("S2")]
    cursor = T0 + timedelta(hours=1)
    assert db.inventory.write_page(store_id, US, rows, at=T0, cursor=cursor) == (2, 0, 0)
    assert db.inventory.write_page(store_id, US, rows, at=T0) == (0, 0, 0)  # idempotent
    changed = [inventory_row("S1", '{"x": 2}'), inventory_row("S3")]
    assert db.inventory.write_page(store_id, US, changed, at=T0) == (1, 1, 0)
    assert db.inventory.cursor(store_id, US) == cursor
    finance = FinanceRow(
        "T1", "Shipment", None, None, "2026-05-31T08:00:00.000Z", "-12.30", "EUR", US, None, None,
        '{"postedDate": "2026-05-31T08:00:00.000Z"}',
    )  # fmt: skip
    assert db.finances.write_page(store_id, [finance], at=T0, cursor=cursor) == (1, 0, 0)
    assert db.finances.write_page(store_id, [finance], at=T0, cursor=T0) == (0, 0, 0)
    assert db.finances.cursor(store_id) == cursor  # never moves back
    exported = db.export("finances", [store_id], since=None)
    [[row]] = list(exported.batches)
    record = dict(zip(exported.columns, row, strict=True))
    assert (record["total_amount"], record["posted_date"]) == ("-12.30", "2026-05-31T08:00:00.000Z")
    assert record["synced_at"] == "2026-06-01T00:00:00.000000Z"
    [figures] = db.data_figures(store_id, ["finances"])
    assert (figures.rows, figures.newest) == (1, "2026-05-31T08:00:00.000Z")
    later = db.export("finances", [store_id], since=datetime(2026, 6, 1, tzinfo=UTC))
    assert list(later.batches) == []


def invitation(name: str, token_hash: str, expires: datetime) -> NewInvitation:
    return NewInvitation(
        uid="u-" + token_hash,
        token_hash=token_hash,
        name=name,
        kind="new",
        region="eu",
        marketplaces=("DE", "FR"),
        region_wide=True,
        note="for Ada",
        created_at=T0,
        expires_at=expires,
    )


def test_invitations_and_their_single_use_states(db: Database) -> None:
    table = db.invitations
    made = table.create(invitation("a", "h1", T0 + timedelta(days=7)))
    assert (made.marketplaces, made.region_wide, made.expires_at) == (
        ("DE", "FR"),
        True,
        T0 + timedelta(days=7),
    )
    assert table.by_token_hash("h1") == made and table.by_id(made.id) == made
    assert table.pending_for("a", T0) == made
    assert table.listing(T0 + timedelta(days=8), include_done=False) == []
    table.add_state("s1", made.id, T0, T0 + timedelta(minutes=10))
    assert table.claim_state("nope", T0).problem == "unknown"
    claim = table.claim_state("s1", T0 + timedelta(minutes=1))
    assert claim.invitation == made and claim.problem is None
    assert table.claim_state("s1", T0 + timedelta(minutes=2)).problem == "used"
    table.add_state("s2", made.id, T0, T0 + timedelta(minutes=10))
    late = table.claim_state("s2", T0 + timedelta(hours=1))
    assert late.problem == "expired" and late.invitation == made
    assert table.mark_used(made.id, T0, "A1") is True
    assert table.mark_used(made.id, T0, "A1") is False
    other = table.create(invitation("b", "h2", T0 + timedelta(days=7)))
    assert table.revoke(other.id, T0) is True and table.revoke(other.id, T0) is False
    everything = table.listing(T0, include_done=True)
    assert [(i.name, i.status(T0)) for i in everything] == [("a", "used"), ("b", "revoked")]


def test_the_notified_log_remembers_the_last_announcement(db: Database) -> None:
    db.store_id("a")
    db.log_notified(T0, [("a", {"channel": "slack", "status": "error"}), (None, {"channel": "x"})])
    db.log_notified(T0, [("a", {"channel": "slack", "status": "active"})])
    assert db.last_notified() == {
        ("a", "slack"): {"channel": "slack", "status": "active"},
        (None, "x"): {"channel": "x"},
    }


def test_a_delete_waits_for_a_write_in_flight_and_removes_its_rows(db: Database) -> None:
    """The write commits first (its store row is locked) and the purge then finds its rows."""
    import threading

    store_id = db.store_id("a")
    other = reopen(db)  # the `soldscope delete` process
    writing = threading.Event()
    deleted: list[int] = []

    def delete() -> None:
        writing.wait(5)
        deleted.append(other.delete_store("a", T0, purge_tables=["inventory_summaries"]))
        other.close()

    deleter = threading.Thread(target=delete)
    deleter.start()
    with db.store_transaction(store_id) as tx:
        db.record_check(check("a", CHECK_OK, T0), tx=tx)
        writing.set()
        deleter.join(0.5)
        assert deleter.is_alive()  # the delete waits for this transaction
    deleter.join(10)
    assert deleted == [1]  # the check committed, then the purge removed it
    assert query(db, "SELECT COUNT(*) FROM checks") == [(0,)]
    with pytest.raises(StoreDeleted):
        db.update_sync_state(store_id, "inventory", T0, set_={"cursor": "x"})


@pytest.mark.parametrize("count", [1, 999, 2503])
def test_search_term_rows_are_stored_exactly_whatever_their_number(
    db: Database, count: int
) -> None:
    store_id = db.store_id("a")
    load_id = db.search_terms.start_load(store_id, US, "2026-05-24", "R1", T0)
    rows = [
        (load_id, store_id, "Amazon.com", f"t{i}", i, f"B{i:09d}", None, 1, 0.5, 0.25)
        for i in range(count)
    ]
    db.search_terms.add_rows(rows[: count // 2])
    db.search_terms.mark_loaded(
        store_id, US, "2026-05-24", "2026-05-30", report_id="R1", status="DONE",
        row_count=count, at=T0, load_id=load_id, rows=rows[count // 2 :],
    )  # fmt: skip
    stored = query(
        db,
        "SELECT search_term, search_frequency_rank, clicked_item_name, click_share"
        " FROM ba_search_terms ORDER BY search_frequency_rank",
    )
    assert stored == [(f"t{i}", i, None, 0.5) for i in range(count)]


def test_a_name_only_invited_has_its_invitations_in_the_history(db: Database) -> None:
    invited = db.invitations.create(invitation("new-us", "h-new", T0 + timedelta(days=14)))
    other = db.invitations.create(invitation("other-us", "h-other", T0 + timedelta(days=14)))
    db.log_event("invited", T0, "new-us", {"invitation_id": invited.id})
    for minutes, reason in ((1, "cancelled"), (2, "duplicate")):
        detail = {"invitation_id": invited.id, "reason": reason, "message": reason + "!"}
        db.log_event("invitation_failed", T0 + timedelta(minutes=minutes), "new-us", detail)
    db.log_event("notified", T0, "new-us", {"channel": "x"})  # not an invitation's: never shown
    db.record_check(check("a", CHECK_OK, T0))
    db.log_event("connected", T0, "a")
    by_name = db.history([], names=["new-us"])
    assert [e.kind for e in by_name] == ["invitation_failed", "invitation_failed", "invited"]
    assert [e.kind for e in db.history(None)] == [
        "invitation_failed",
        "invitation_failed",
        "connected",
        "invited",
    ]
    assert db.history([db.store_id("a")]) == db.history([db.store_id("a")], names=["other-us"])
    failures = db.invitations.last_failures([invited, other])
    assert list(failures) == [invited.id]
    last = failures[invited.id]
    assert (last.at, last.reason, last.message) == (
        T0 + timedelta(minutes=2),
        "duplicate",
        "duplicate!",
    )
