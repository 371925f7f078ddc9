"""The fleet's Data Kiosk budget: two processes taking tokens at once never take more than the
budget holds, on SQLite and PostgreSQL; what refills, and what a clock that went back does."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.db.database import Database
from soldscope_cli.sync.quota import FleetBudget
from soldscope_cli.sync.sales_traffic import BUDGET_OPERATION

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

# Each process: its own connection to the shared state database, then as many takes as it can,
# all at one frozen moment (nothing refills), starting together when the go file appears.
WORKER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path

    from soldscope_cli.sync.quota import FleetBudget

    engine, where, go, attempts = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    if engine == "sqlite":
        from soldscope_cli.db.database import MIGRATIONS, Database
        db = Database(Path(where), MIGRATIONS)
    else:
        from soldscope_cli.db.postgres.engine import Database
        db = Database(where)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    budget = FleetBudget(db, "dataKiosk:createQuery", burst=15, per_hour=60, clock=lambda: now)
    db.store_names()  # connected before the start, so both begin at once
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    taken = sum(1 for _ in range(attempts) if budget.take() == 0.0)
    print(taken, flush=True)
    db.close()
    """
)


def where_of(engine: str, db: Any) -> str:
    return str(db.path) if engine == "sqlite" else str(db.url)


def test_two_processes_never_take_more_than_the_budget(
    engine: str, db: Database, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    db.store_names()  # migrated before the workers open it
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, engine, where_of(engine, db), str(go), "25"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    go.touch()
    taken = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0
        taken.append(int(out.strip()))
    # 50 attempts together, 15 tokens: each process alone would have taken 15.
    assert sum(taken) == 15


def test_the_budget_refills_one_token_a_minute_up_to_its_burst(db: Database) -> None:
    clock = [NOW]
    budget = FleetBudget(db, BUDGET_OPERATION, burst=15, per_hour=60, clock=lambda: clock[0])
    assert [budget.take() for _ in range(15)] == [0.0] * 15
    assert budget.take() == pytest.approx(60.0)
    clock[0] += timedelta(seconds=30)
    assert budget.take() == pytest.approx(30.0)  # nothing taken: half a token is there
    clock[0] += timedelta(seconds=30)
    assert budget.take() == 0.0
    assert budget.take() == pytest.approx(60.0)
    clock[0] += timedelta(hours=2)
    assert [budget.take() for _ in range(16)][-2:] == [0.0, pytest.approx(60.0)]


def test_a_host_whose_clock_is_behind_takes_nothing_extra(db: Database) -> None:
    ahead = FleetBudget(db, BUDGET_OPERATION, burst=15, per_hour=60, clock=lambda: NOW)
    behind = FleetBudget(
        db, BUDGET_OPERATION, burst=15, per_hour=60, clock=lambda: NOW - timedelta(minutes=10)
    )
    assert sum(ahead.take() == 0.0 for _ in range(15)) == 15
    assert behind.take() > 0
    assert ahead.take() > 0


def test_a_faster_declared_rate_refills_faster(db: Database) -> None:
    clock = [NOW]
    budget = FleetBudget(db, BUDGET_OPERATION, burst=15, per_hour=3600, clock=lambda: clock[0])
    for _ in range(15):
        budget.take()
    clock[0] += timedelta(seconds=1)
    assert budget.take() == 0.0


def test_the_wait_is_never_slept(db: Database) -> None:
    started = time.monotonic()
    budget = FleetBudget(db, BUDGET_OPERATION, burst=1, per_hour=1, clock=lambda: NOW)
    budget.take()
    assert budget.take() == pytest.approx(3600.0)
    assert time.monotonic() - started < 5
