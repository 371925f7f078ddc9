"""Benchmark: `soldscope sync --dataset orders` of one store whose orders file has 1,000,000 rows.

It runs the real command against the local simulator (a German store: amounts in "1.234,56"
form, read exactly), into SQLite and then into PostgreSQL (team mode, a throwaway cluster as the
tests start one, or --database-url), and reports the soldscope process's peak RSS and rows/s.

    python benchmarks/orders_load.py                      # 1,000,000 rows, SQLite and PostgreSQL
    python benchmarks/orders_load.py --rows 200000 --engines sqlite
    python benchmarks/orders_load.py --database-url postgresql://me@localhost/postgres
    python benchmarks/orders_load.py --again              # and the same file read again

Targets: peak RSS ≤ 150 MB whatever the file's size; ≥ 100,000 rows/s on 2 cores.

The first sync of a store loads into a store that holds no orders (its first load takes that
shorter path); --again then forgets the window was loaded and syncs it once more: every order of
the file is held already, so each batch's orders are looked up for lines to replace and every
line is an update.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
from measure import SOLDSCOPE, fresh_database, postgres_server, prepare_home, run_measured

from soldscope_cli.simulator import Simulator, parse_scenario

CLIENT_ID = "amzn1.application-oa2-client.benchmark000000002"
SECRET = "amzn1.oa2-cs.v1.benchmark-secret"
SELLER = "A1ORDERSBENCH01"


def scenario(rows: int) -> dict[str, Any]:
    return {
        "app": {"client_id": CLIENT_ID, "client_secret": SECRET},
        "rate_limits": {"enabled": False},
        # The simulator makes and stores the document when the report is created, as Amazon's
        # exists before it is downloaded: that lands in createReport (the whole run's rows/s),
        # not in the load (download, parse, upsert) the load rows/s measures.
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0, "ready_documents": True},
        "sellers": [
            {
                "selling_partner_id": SELLER,
                "region": "eu",
                "marketplaces": ["DE"],
                "orders_rows": rows,
            }
        ],
    }


def prepare(home: Path, sim: Simulator) -> dict[str, str]:
    """Config and file secrets for one store; returns the environment of the command."""
    return prepare_home(
        home,
        sim,
        client_id=CLIENT_ID,
        secret=SECRET,
        seller=SELLER,
        store="bench-de",
        region="eu",
        marketplace="DE",
    )


def bench(rows: int, engine: str, database_url: str | None, again: bool) -> list[dict[str, Any]]:
    with Simulator(parse_scenario(scenario(rows))) as sim, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "soldscope"
        env = prepare(home, sim)
        if engine == "sqlite":
            path = home / "data" / "soldscope.db"
            return _runs(home, env, engine, again, lambda: sqlite3.connect(path))
        with postgres_server(database_url) as admin, fresh_database(admin, "orders") as url:
            env["SOLDSCOPE_DATABASE_URL"] = url
            # In team mode the stores are the team database's: move the home's into it.
            run_measured([str(SOLDSCOPE), "team", "import", "--from-secrets", "file"], env)
            return _runs(home, env, engine, again, lambda: psycopg.connect(url))


def _runs(
    home: Path, env: dict[str, str], engine: str, again: bool, connect: Callable[[], Any]
) -> list[dict[str, Any]]:
    """The first sync's figures, and with `again` those of the same window synced once more."""
    results = [_bench(home, env, engine)]
    if again:
        with closing(connect()) as conn, conn:
            conn.execute(FORGET_COVERED)
        results.append(_bench(home, env, f"{engine} again"))
    return results


# The window's loaded span forgotten: the next sync asks for the same window (the simulator's
# document for it lists the same orders) and loads it into a store that holds them all.
FORGET_COVERED = "DELETE FROM sync_state WHERE dataset = 'orders' AND key = 'covered'"


def _bench(home: Path, env: dict[str, str], engine: str) -> dict[str, Any]:
    out, rss_kib, wall, _ = run_measured(
        [str(SOLDSCOPE), "sync", "--dataset", "orders", "--json", "--no-notify"], env
    )
    [dataset] = json.loads(out)["stores"][0]["datasets"]
    if dataset["outcome"] != "ok" or dataset["notes"]:
        raise SystemExit(f"the sync did not load cleanly: {dataset}")
    log = (home / "data" / "soldscope.log").read_text()
    loads = re.findall(r"loaded \d+ line rows in [\d.]+ s \((\d+) rows/s", log)
    return {
        "engine": engine,
        "rows": dataset["rows_added"],
        "rss_mb": rss_kib / 1024,
        # Whole dataset: createReport, polling, document URL, download, parse, upsert.
        "rows_s": dataset["rows_added"] / dataset["duration_s"],
        # Download + gunzip + parse + upsert only, as the sync log reports it.
        "load_rows_s": float(loads[-1]) if loads else None,
        "wall_s": wall,
        "load_average": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the orders file")
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--database-url", help="a PostgreSQL server whose role creates databases")
    parser.add_argument(
        "--again", action="store_true", help="then sync the same file into the store again"
    )
    options = parser.parse_args(argv)
    results = [
        result
        for engine in options.engines.split(",")
        for result in bench(options.rows, engine, options.database_url, options.again)
    ]
    print(
        f"{'engine':>16} {'rows':>10} {'peak RSS':>9} {'rows/s':>9} {'load rows/s':>12} {'wall':>7}"
    )
    for r in results:
        print(
            f"{r['engine']:>16} {r['rows']:>10,} {r['rss_mb']:>6.0f} MB {r['rows_s']:>9,.0f}"
            f" {r['load_rows_s'] or 0:>12,.0f} {r['wall_s']:>6.1f}s"
        )
    print(
        "(the simulator makes the document at createReport: in rows/s, not in load rows/s,"
        " which is download + parse + upsert)"
    )
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
