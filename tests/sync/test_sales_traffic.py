"""Sales & traffic against the simulator's Data Kiosk, on each engine: days, re-pull, backfill,
no data, FATAL, a query resumed by the next run, the fleet's createQuery budget."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from soldscope_cli.amazon.http import make_http_client
from soldscope_cli.amazon.ratelimit import RateLimiter
from soldscope_cli.amazon.retry import RetryPolicy
from soldscope_cli.amazon.spapi import SpapiClient, SpapiForbidden
from soldscope_cli.db.database import Database
from soldscope_cli.fleet.config import Config
from soldscope_cli.fleet.secrets import MemorySecretStore, token_key
from soldscope_cli.simulator import ManualClock, Simulator, parse_scenario
from soldscope_cli.sync import sales_traffic as st
from soldscope_cli.sync.base import DatasetFailed, DatasetJob
from soldscope_cli.sync.freshness import run_data
from soldscope_cli.sync.runner import SyncEnvironment, SyncOptions, run_sync

from ..simulator.support import lwa_form, scenario_data
from .conftest import make_store, rows

# 12:00 UTC: the newest complete day is 2026-11-24.
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
YESTERDAY = date(2026, 11, 24)
SELLER = "A1SALESTRAFFIC1"
NO_ROLE = "A2SALESTRAFFIC2"


def scenario(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "app": scenario_data()["app"],
        "rate_limits": {"enabled": False},
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "data": {"history_days": 800},
        "sellers": [
            {
                "selling_partner_id": SELLER,
                "region": "na",
                "marketplaces": ["US", "CA"],
                "inventory_items": 3,
            },
            {
                "selling_partner_id": NO_ROLE,
                "region": "na",
                "marketplaces": ["US"],
                "roles": ["sellers", "inventory", "finances"],
            },
        ],
    }
    data.update(overrides)
    return data


class Setup:
    """A simulator on a manual clock, a client of one seller and jobs on the test's database."""

    def __init__(self, sim: Simulator, clock: ManualClock, db: Database) -> None:
        self.sim = sim
        self.clock = clock
        self.db = db
        self.http = httpx.Client(base_url=sim.url, timeout=10)
        self.clients: dict[str, SpapiClient] = {}
        self.https: list[httpx.Client] = [self.http]

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def client(self, seller: str = SELLER) -> SpapiClient:
        if seller not in self.clients:
            refresh = self.sim.authorize(seller)

            def token() -> str:
                # A fresh access token each call: the tests move the clock by days.
                form = lwa_form(grant_type="refresh_token", refresh_token=refresh)
                return str(self.http.post("/auth/o2/token", data=form).json()["access_token"])

            self.https.append(make_http_client(env={}))
            self.clients[seller] = SpapiClient(
                self.https[-1],
                self.sim.url,
                token,
                store=seller,
                limiter=RateLimiter(clock=self.clock, sleep=self.clock.sleep),
                retry=RetryPolicy(max_attempts=1),
                clock=self.now,
                sleep=self.clock.sleep,
            )
        return self.clients[seller]

    def job(self, name: str = "acme-us", seller: str = SELLER, **kwargs: Any) -> DatasetJob:
        store = make_store(name, ["US", "CA"] if seller == SELLER else ["US"])
        return DatasetJob(
            store=store,
            client=self.client(seller),
            db=self.db,
            clock=self.now,
            sleep=self.clock.sleep,
            **kwargs,
        )


@pytest.fixture
def setup(db: Database) -> Iterator[Setup]:
    clock = ManualClock(START)
    with Simulator(parse_scenario(scenario()), clock=clock, sleep=clock.sleep) as sim:
        made = Setup(sim, clock, db)
        yield made
        for http in made.https:
            http.close()


def days(db: Database, table: str = "sales_traffic_by_date") -> list[str]:
    found = rows(db, f"SELECT DISTINCT date FROM {table} ORDER BY date")  # noqa: S608 (test)
    return [str(r[0])[:10] for r in found]


def creates(setup: Setup) -> int:
    return int(setup.sim.counters()["by_operation"].get("createQuery", 0))


def test_first_sync_loads_30_days_per_marketplace_and_asin(setup: Setup) -> None:
    outcome = st.sync(setup.job())
    loaded = days(setup.db)
    assert loaded[0] == str(YESTERDAY - timedelta(days=29)) and loaded[-1] == str(YESTERDAY)
    assert len(loaded) == 30
    by_date = rows(setup.db, "SELECT COUNT(*) FROM sales_traffic_by_date")[0][0]
    by_asin = rows(setup.db, "SELECT COUNT(*) FROM sales_traffic_by_asin")[0][0]
    assert by_date == 30 * 2  # US and CA
    assert by_asin == 30 * 2 * 3  # three child ASINs
    assert outcome.rows_added == by_date + by_asin
    assert creates(setup) == 1  # one query covers the 30 days, both tables
    assert setup.db.dataset_table(st.NAME).mark(setup.job().store_id, st.THROUGH) == str(YESTERDAY)


def test_money_is_exact_and_next_to_its_currency(setup: Setup) -> None:
    st.sync(setup.job())
    found = rows(
        setup.db,
        "SELECT marketplace, ordered_product_sales, currency, raw FROM sales_traffic_by_date",
    )
    currencies = {str(m): str(c) for m, _, c, _ in found}
    assert currencies == {"ATVPDKIKX0DER": "USD", "A2EUQ1WTGCTBG2": "CAD"}
    for _, amount, _, raw in found:
        written = str(raw).split('"amount":', 1)[1].split(",", 1)[0]
        assert Decimal(str(amount)) == Decimal(written)


def test_next_day_repulls_the_last_three_days(setup: Setup) -> None:
    st.sync(setup.job())
    setup.clock.advance(86400)
    before = setup.sim.counters()
    st.sync(setup.job())
    assert creates(setup) == 2
    query = setup.sim.queries[max(setup.sim.queries)].query
    # The 3 days loaded last (restated by Amazon for 72 hours) and the new one.
    assert f'startDate: "{YESTERDAY - timedelta(days=2)}"' in query
    assert f'endDate: "{YESTERDAY + timedelta(days=1)}"' in query
    assert days(setup.db)[-1] == str(YESTERDAY + timedelta(days=1))
    assert before["by_operation"]["createQuery"] == 1


def test_a_store_whose_yesterday_is_loaded_asks_nothing_until_a_day_closes(
    setup: Setup,
) -> None:
    st.sync(setup.job())
    setup.clock.advance(6 * 3600)  # 18:00, the same day
    again = st.sync(setup.job())
    assert creates(setup) == 1 and again.rows_added == again.rows_updated == again.left == 0
    setup.clock.advance(7 * 3600)  # 01:00 the next day: one more day has closed
    st.sync(setup.job())
    assert creates(setup) == 2


def test_since_backfills_behind_the_oldest_day_newest_first(setup: Setup) -> None:
    st.sync(setup.job())
    since = datetime(2026, 7, 1, tzinfo=UTC)
    outcome = st.sync(setup.job(since=since))
    loaded = days(setup.db)
    assert loaded[0] == "2026-07-01" and loaded[-1] == str(YESTERDAY)
    assert len(loaded) == (YESTERDAY - date(2026, 7, 1)).days + 1  # no gap
    assert outcome.left == 0
    job = setup.job()
    assert setup.db.dataset_table(st.NAME).mark(job.store_id, st.FROM) == "2026-07-01"


def test_since_further_than_two_years_is_clamped_with_a_note(setup: Setup) -> None:
    outcome = st.sync(setup.job(since=datetime(2023, 1, 1, tzinfo=UTC)))
    assert any("two years" in n.text for n in outcome.notes)
    assert days(setup.db)[0] == str(START.date() - timedelta(days=730))


def test_done_without_a_document_is_no_data(setup: Setup) -> None:
    setup.sim.update_section("data_kiosk", {"outcome": "NO_DATA"})
    outcome = st.sync(setup.job())
    assert outcome.rows_added == 0 and outcome.left == 0
    job = setup.job()
    # The days are covered: the next run asks for the last three again, not for 30.
    assert setup.db.dataset_table(st.NAME).mark(job.store_id, st.THROUGH) == str(YESTERDAY)


def test_fatal_shows_amazons_reason_from_the_error_document(setup: Setup) -> None:
    setup.sim.update_section(
        "data_kiosk", {"outcome": "FATAL", "error_details": "Dataset temporarily unavailable."}
    )
    with pytest.raises(DatasetFailed) as failed:
        st.sync(setup.job())
    assert "FATAL" in failed.value.message
    assert "Dataset temporarily unavailable." in failed.value.message
    assert days(setup.db) == []
    assert setup.db.dataset_table(st.NAME).mark(setup.job().store_id, st.THROUGH) is None
    # The next run asks afresh, not the FATAL query again.
    setup.sim.update_section("data_kiosk", {"outcome": "DONE"})
    assert st.sync(setup.job()).rows_added > 0
    assert creates(setup) == 2


def test_without_the_brand_analytics_role_createquery_is_403(setup: Setup) -> None:
    with pytest.raises(SpapiForbidden) as refused:
        st.sync(setup.job("acme-norole", NO_ROLE))
    assert refused.value.operation == "createQuery"


def test_a_query_still_processing_is_resumed_by_the_next_run(setup: Setup) -> None:
    setup.sim.set_reports(polls_in_queue=50)
    outcome = st.sync(setup.job(report_wait_s=20))
    assert outcome.left == 1 and days(setup.db) == []
    setup.sim.set_reports(polls_in_queue=0)
    outcome = st.sync(setup.job())
    assert len(days(setup.db)) == 30
    assert creates(setup) == 1  # the same query, not a second one
    assert setup.db.get_sync_state(setup.job().store_id, st.NAME, st.INFLIGHT) is None


def test_an_empty_fleet_budget_leaves_the_rest_without_waiting(setup: Setup) -> None:
    # Two years asked for: 24 queries of 31 days, 14 allowed at once (Amazon's burst of 15, one
    # kept back).
    outcome = st.sync(setup.job(since=datetime(2025, 1, 1, tzinfo=UTC)))
    assert creates(setup) == st.BUDGET_BURST == 14
    assert outcome.left > 0
    assert any("budget is spent" in n.text for n in outcome.notes)
    assert sum(setup.clock.sleeps) < 600  # polls only, no wait for the refill
    # Another store of the fleet finds the same budget empty.
    other = st.sync(setup.job("acme-two"))
    assert creates(setup) == 14 and other.left == 1


def test_the_budget_refills_one_query_a_minute(setup: Setup) -> None:
    st.sync(setup.job(since=datetime(2025, 1, 1, tzinfo=UTC)))
    setup.clock.advance(120)
    assert st.sync(setup.job("acme-two")).left == 0
    assert st.sync(setup.job("acme-three")).left == 0
    assert st.sync(setup.job("acme-four")).left == 1
    assert creates(setup) == 16


@pytest.mark.parametrize(
    ("marketplaces", "most_days"),
    [(["ATVPDKIKX0DER"], 31), ([f"A{i:012d}" for i in range(12)], 21)],
)
def test_spans_keep_queries_under_amazons_8000_characters(
    marketplaces: list[str], most_days: int
) -> None:
    found = st.spans(date(2026, 1, 1), date(2026, 6, 30), marketplaces, backward=False)
    assert found[0].start == date(2026, 1, 1) and found[-1].end == date(2026, 6, 30)
    assert all(b.start == a.end + timedelta(days=1) for a, b in itertools.pairwise(found))
    assert max(len(s.days()) for s in found) <= most_days
    assert all(len(" ".join(st.query_text(s, marketplaces).split())) <= 8000 for s in found)


def test_rows_of_records_tell_asin_from_date() -> None:
    record: dict[str, Any] = {
        "startDate": "2026-11-01",
        "marketplaceId": "ATVPDKIKX0DER",
        "sales": {
            "orderedProductSales": {"amount": Decimal("1234.50"), "currencyCode": "USD"},
            "unitsOrdered": 7,
            "totalOrderItems": 6,
        },
        "traffic": {
            "pageViews": 90,
            "sessions": 40,
            "buyBoxPercentage": Decimal("97.5"),
            "unitSessionPercentage": Decimal("17.5"),
        },
    }
    assert st.date_row(record) == (
        "ATVPDKIKX0DER",
        "2026-11-01",
        "1234.50",
        "USD",
        7,
        6,
        90,
        40,
        97.5,
        17.5,
        st.raw_json(record),
    )
    assert st.asin_row(record) is None  # no childAsin
    assert st.date_row({"marketplaceId": "X"}) is None


def test_a_store_without_the_role_is_not_authorized_for_this_dataset_only(setup: Setup) -> None:
    store = make_store("acme-norole", ["US"])
    env = SyncEnvironment(
        db=setup.db,
        secrets=MemorySecretStore({token_key(store.name): "Atzr|token"}),
        client_for=lambda record, token: setup.client(NO_ROLE),
        clock=setup.now,
        sleep=setup.clock.sleep,
        monotonic=setup.clock,
    )
    report = run_sync([store], SyncOptions(datasets=("inventory", st.NAME)), env)
    result = report.stores[0]
    outcomes = {d.dataset: d for d in result.datasets}
    assert result.outcome == "ok" and report.ok
    assert outcomes["inventory"].outcome == "ok" and outcomes["inventory"].rows_added > 0
    denied = outcomes[st.NAME]
    assert denied.outcome == "not_authorized"
    assert "add the Brand Analytics role to the app" in (denied.error or "")
    # The store stays Active: no check recorded a problem.
    assert setup.db.checks(store.name) == []
    config = Config()
    config.stores[store.name] = store
    shown = {r.dataset: r for r in run_data(config, setup.db, [], setup.now())}
    assert [p.code for p in shown[st.NAME].problems] == ["not_authorized"]
    assert "Brand Analytics" in shown[st.NAME].problems[0].message
    assert shown["inventory"].problems == []
