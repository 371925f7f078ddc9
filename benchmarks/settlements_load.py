"""Benchmark: `soldscope sync --dataset settlements` of one store whose new settlement has
1,000,000 lines, into SQLite and into PostgreSQL (team mode).

The simulator serves the V2 flat file (gzip, German amounts such as "1.234,56"), made and stored
when it first lists the settlement, before the timed sync, as Amazon's exists already. A first
sync loads the store's earlier settlements (one line each); then the simulated clock moves 14 days
and the measured sync loads the new, big one. It reports the soldscope process's peak RSS, the
rows/s of the whole dataset run and of the load (download, gunzip, parse, insert, as the sync log
reports it).

    python benchmarks/settlements_load.py                     # 1,000,000 lines, both engines
    python benchmarks/settlements_load.py --lines 200000 --engines sqlite
    python benchmarks/settlements_load.py --database-url postgresql://me@localhost/postgres
                                          # that server instead of a throwaway cluster (its role
                                          # must create databases)

Targets: peak RSS ≤ 150 MB whatever the document size; ≥ 100,000 rows/s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from measure import (
    SOLDSCOPE,
    access_token,
    fresh_database,
    postgres_server,
    prepare_home,
    run_measured,
)

from soldscope_cli.simulator import Simulator, parse_scenario

CLIENT_ID = "amzn1.application-oa2-client.benchmark000000001"
SECRET = "amzn1.oa2-cs.v1.benchmark-secret"
SELLER = "A1SETTLEBENCH01"
LOAD_LINE = re.compile(r"loaded (\d+) settlement line rows in ([\d.]+) s \((\d+) rows/s")


def scenario() -> dict[str, Any]:
    return {
        "app": {"client_id": CLIENT_ID, "client_secret": SECRET},
        "rate_limits": {"enabled": False},
        # Each settlement's document is made and stored when the simulator first lists it, as
        # Amazon's exists before it is downloaded: the timed download costs no generating.
        "reports": {"ready_documents": True},
        "sellers": [
            {
                "selling_partner_id": SELLER,
                "region": "eu",
                "marketplaces": ["DE"],
                "settlement_lines": 1,
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


def list_settlements(sim: Simulator) -> None:
    """List the store's settlements once, before the timed sync: the simulator makes the new
    settlement's document then, not while the measured command downloads it."""
    with httpx.Client(base_url=sim.url, timeout=600) as http:
        token = access_token(http, sim, SELLER, CLIENT_ID, SECRET)
        http.get(
            "/reports/2021-06-30/reports",
            params={"reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"},
            headers={"x-amz-access-token": token},
        ).raise_for_status()


def bench(lines: int, engine: str, admin_url: str | None) -> dict[str, Any]:
    with ExitStack() as stack:
        sim = stack.enter_context(Simulator(parse_scenario(scenario())))
        home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        env = prepare(home, sim)
        command = [str(SOLDSCOPE), "sync", "--dataset", "settlements", "--json"]
        if engine == "postgresql":
            assert admin_url is not None
            env["SOLDSCOPE_DATABASE_URL"] = stack.enter_context(fresh_database(admin_url, "settle"))
            subprocess.run(
                [str(SOLDSCOPE), "team", "import", "--from-secrets", "file"],
                env=env,
                check=True,
                capture_output=True,
            )
        # The earlier settlements, one line each: the measured run loads only the new one.
        run_measured(command, env)
        sim.update_seller(SELLER, {"settlement_lines": lines})
        sim.advance_clock(14 * 86400)
        list_settlements(sim)
        out, rss_kib, wall, cpu = run_measured(command, env)
        [store] = json.loads(out)["stores"]
        [dataset] = store["datasets"]
        log = (home / "data" / "soldscope.log").read_text()
        loads = LOAD_LINE.findall(log)
        if not loads:
            raise SystemExit(f"no load in the sync's log: {out}\n{log[-3000:]}")
        rows, seconds, rate = loads[-1]
        return {
            "engine": engine,
            "lines": lines,
            "rows": int(rows),
            "rows_added": dataset["rows_added"],
            "peak_rss_mb": rss_kib / 1024,
            # The whole dataset run: listing, document URL, download, parse, insert.
            "dataset_rows_s": int(rows) / dataset["duration_s"],
            # Download + gunzip + parse + insert, as the sync log reports it.
            "load_rows_s": float(rate),
            "load_s": float(seconds),
            "wall_s": wall,
            # soldscope's own CPU: on a shared machine, rows per CPU second say what it costs.
            "rows_per_cpu_s": int(rows) / cpu,
            "load_average": os.getloadavg()[0],
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the big settlement")
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server whose role may create databases"
    )
    options = parser.parse_args(argv)
    engines = options.engines.split(",")
    results: list[dict[str, Any]] = []
    if "sqlite" in engines:
        results.append(bench(options.lines, "sqlite", None))
    if "postgresql" in engines:
        with postgres_server(options.database_url) as admin_url:
            results.append(bench(options.lines, "postgresql", admin_url))
    print(
        f"{'engine':>10} {'rows':>11} {'peak RSS':>9} {'load rows/s':>12} {'dataset rows/s':>15}"
        f" {'rows/CPU s':>11}"
    )
    for r in results:
        print(
            f"{r['engine']:>10} {r['rows']:>11,} {r['peak_rss_mb']:>6.0f} MB"
            f" {r['load_rows_s']:>12,.0f} {r['dataset_rows_s']:>15,.0f}"
            f" {r['rows_per_cpu_s']:>11,.0f}"
        )
    print("(the simulator made the settlement's document before the timed sync)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
