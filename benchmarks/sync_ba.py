"""Benchmark: `soldscope sync --dataset brand-analytics` of one store with a large search terms document.

For each document size (uncompressed JSON bytes) it runs the real command against the local
simulator and reports the soldscope process's peak RSS and rows/s, next to a naive baseline that
gunzips and json.loads the whole document, then inserts the rows.

    python benchmarks/sync_ba.py                  # 100 MB and 1 GB
    python benchmarks/sync_ba.py --sizes 100      # just 100 MB
    python benchmarks/sync_ba.py --no-baseline    # skip the (memory-hungry) baseline
    python benchmarks/sync_ba.py --sizes 100 --repeat 5
                                                  # medians of 5 runs, each sync next to its
                                                  # baseline: on a busy machine compare the ratio
    python benchmarks/sync_ba.py --database-url postgresql://me@localhost/postgres
                                                  # into PostgreSQL (team mode): a fresh database
                                                  # per size is created there and dropped after

Targets: peak RSS ≤ 150 MB whatever the document size; ≥ 100,000 rows/s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
from measure import SOLDSCOPE, access_token, fresh_database, prepare_home, run_measured

from soldscope_cli.simulator import Simulator, parse_scenario
from soldscope_cli.sync.brand_analytics import REPORT_TYPE, latest_available_week, week_bounds

CLIENT_ID = "amzn1.application-oa2-client.benchmark000000001"
SECRET = "amzn1.oa2-cs.v1.benchmark-secret"
SELLER = "A1BENCHMARK0001"

BASELINE = textwrap.dedent(
    """
    import gzip, json, sqlite3, sys, time
    path, db = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    with open(path, "rb") as f:
        doc = json.loads(gzip.decompress(f.read()))
    rows = [
        (r.get("departmentName"), r.get("searchTerm"), r.get("searchFrequencyRank"),
         r.get("clickedAsin"), r.get("clickedItemName"), r.get("clickShareRank"),
         r.get("clickShare"), r.get("conversionShare"))
        for r in doc["dataByDepartmentAndSearchTerm"]
    ]
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (d, s, f, a, n, r, c, v)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    print(json.dumps({"rows": len(rows), "seconds": time.perf_counter() - started}))
    """
)


def command() -> list[str]:
    """The installed soldscope command."""
    return [str(SOLDSCOPE)]


def scenario(size_bytes: int) -> dict[str, Any]:
    return {
        "app": {"client_id": CLIENT_ID, "client_secret": SECRET},
        "rate_limits": {"enabled": False},
        # Documents are made once and then served as stored bytes, as S3 serves them: the timed
        # sync then shares the two cores with nothing that Amazon would run elsewhere.
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0, "ready_documents": True},
        "sellers": [
            {
                "selling_partner_id": SELLER,
                "region": "na",
                "marketplaces": ["US"],
                "search_terms_bytes": size_bytes,
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
        store="bench-us",
        region="na",
        marketplace="US",
    )


def fetch_document(sim: Simulator, path: Path) -> None:
    """Download the same week's document once, compressed, for the baseline."""
    with httpx.Client(base_url=sim.url, timeout=300) as http:
        token = access_token(http, sim, SELLER, CLIENT_ID, SECRET)
        headers = {"x-amz-access-token": token}
        start, end = week_bounds(
            latest_available_week(__import__("datetime").datetime.now().astimezone())
        )
        report_id = http.post(
            "/reports/2021-06-30/reports",
            headers=headers,
            json={
                "reportType": REPORT_TYPE,
                "marketplaceIds": ["ATVPDKIKX0DER"],
                "dataStartTime": start.isoformat().replace("+00:00", "Z"),
                "dataEndTime": end.isoformat().replace("+00:00", "Z"),
                "reportOptions": {"reportPeriod": "WEEK"},
            },
        ).json()["reportId"]
        while True:
            report = http.get(f"/reports/2021-06-30/reports/{report_id}", headers=headers).json()
            if report["processingStatus"] == "DONE":
                break
            time.sleep(0.05)
        doc = http.get(
            f"/reports/2021-06-30/documents/{report['reportDocumentId']}", headers=headers
        ).json()
        with http.stream("GET", doc["url"]) as response, path.open("wb") as out:
            for chunk in response.iter_raw():
                out.write(chunk)


def bench(size_mb: int, baseline: bool, database_url: str | None = None) -> dict[str, Any]:
    size = size_mb * 1_000_000
    with Simulator(parse_scenario(scenario(size))) as sim, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = prepare(home / "soldscope", sim)
        if database_url is None:
            return _bench(sim, home, env, size_mb, baseline, "sqlite")
        with fresh_database(database_url, "bench") as url:
            env["SOLDSCOPE_DATABASE_URL"] = url
            # In team mode the stores are the team database's: move the home's into it.
            run_measured([str(SOLDSCOPE), "team", "import", "--from-secrets", "file"], env)
            return _bench(sim, home, env, size_mb, baseline, "postgresql")


def _bench(
    sim: Simulator, home: Path, env: dict[str, str], size_mb: int, baseline: bool, engine: str
) -> dict[str, Any]:
    # The week's document, downloaded once before anything is timed: the simulator makes it now
    # and serves the sync the same stored bytes, which the baseline reads from this file.
    document = home / "document.json.gz"
    fetch_document(sim, document)
    out, rss_kib, wall, cpu = run_measured(
        [*command(), "sync", "--dataset", "brand-analytics", "--ba-weeks", "1", "--json"], env
    )
    report = json.loads(out)
    [dataset] = report["stores"][0]["datasets"]
    rows = dataset["rows_added"]
    log = (home / "soldscope" / "data" / "soldscope.log").read_text()
    load = re.search(r"loaded \d+ search term rows in ([\d.]+) s \((\d+) rows/s", log)
    result: dict[str, Any] = {
        "engine": engine,
        "size_mb": size_mb,
        "rows": rows,
        "soldscope_rss_mb": rss_kib / 1024,
        # Whole dataset: createReport, polling, document URL, download, parse, insert.
        "soldscope_rows_s": rows / dataset["duration_s"],
        # Download + gunzip + parse + insert only, as the sync log reports it.
        "soldscope_load_rows_s": float(load.group(2)) if load else None,
        "soldscope_wall_s": wall,
        # User + system time of the command and its parser process: on a busy machine the
        # rates move with the neighbours, this much less.
        "soldscope_cpu_s": cpu,
        "load_average": os.getloadavg()[0],
    }
    if baseline:
        out, rss_kib, _, _ = run_measured(
            [sys.executable, "-c", BASELINE, str(document), str(home / "baseline.db")]
        )
        naive = json.loads(out)
        result.update(
            baseline_rss_mb=rss_kib / 1024,
            baseline_rows_s=naive["rows"] / naive["seconds"],
            baseline_rows=naive["rows"],
        )
    return result


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One result per size: each figure's median over the runs, and the median of the runs'
    load-to-baseline ratios (noise on a shared machine moves both figures of a run together)."""
    result: dict[str, Any] = {"engine": runs[0]["engine"], "size_mb": runs[0]["size_mb"]}
    for key, value in runs[0].items():
        if key not in result and isinstance(value, int | float):
            result[key] = statistics.median(r[key] for r in runs if r.get(key) is not None)
    ratios = [
        r["soldscope_load_rows_s"] / r["baseline_rows_s"]
        for r in runs
        if r.get("soldscope_load_rows_s") and r.get("baseline_rows_s")
    ]
    result["load_vs_baseline"] = statistics.median(ratios) if ratios else None
    result["runs"] = len(runs)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="uncompressed MB, comma-separated")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    parser.add_argument(
        "--database-url",
        help="load into PostgreSQL instead of SQLite: a server URL whose role may create databases",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per size; figures are their medians"
    )
    options = parser.parse_args()
    results = [
        medians(
            [
                bench(int(s), not options.no_baseline, options.database_url)
                for _ in range(max(1, options.repeat))
            ]
        )
        for s in options.sizes.split(",")
    ]
    print(
        f"{'engine':>10} {'document':>9} {'rows':>11} {'soldscope RSS':>14} {'rows/s':>10} {'load rows/s':>12}"
        f" {'baseline RSS':>13} {'rows/s':>10} {'load/baseline':>14}"
    )
    for r in results:
        base_rss = f"{r['baseline_rss_mb']:.0f} MB" if "baseline_rss_mb" in r else "-"
        base_rate = f"{r['baseline_rows_s']:,.0f}" if "baseline_rows_s" in r else "-"
        ratio = f"{r['load_vs_baseline']:.2f}" if r["load_vs_baseline"] else "-"
        print(
            f"{r['engine']:>10} {r['size_mb']:>6} MB {r['rows']:>11,.0f} {r['soldscope_rss_mb']:>11.0f} MB"
            f" {r['soldscope_rows_s']:>10,.0f} {r['soldscope_load_rows_s'] or 0:>12,.0f}"
            f" {base_rss:>13} {base_rate:>10} {ratio:>14}"
        )
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
