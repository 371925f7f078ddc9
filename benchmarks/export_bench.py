"""Benchmark: `soldscope export brand-analytics` of one store holding 1,000,000 search term rows.

Builds the database through the db layer's bulk path (start_load, add_rows, mark_loaded), then
runs the installed command as a whole process for each format, writing to a file with -o, and
reports rows/s and the process's peak RSS (getrusage of the child).

    python benchmarks/export_bench.py               # 1,000,000 rows
    python benchmarks/export_bench.py --rows 200000

Targets: flat memory well under 150 MB; at least 200,000 rows/s for CSV.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from soldscope_cli.db.database import MIGRATIONS, Database

SOLDSCOPE = Path(sys.executable).parent / "soldscope"
STORE = "bench-us"
MARKETPLACE = "ATVPDKIKX0DER"
WEEK_ROWS = 250_000
BATCH = 50_000


def build(home: Path, rows: int) -> None:
    """A home with one store and `rows` Brand Analytics rows spread over weeks of WEEK_ROWS."""
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(
        f'[stores.{STORE}]\nregion = "na"\nmarketplaces = ["US"]\n'
        "authorized_at = 2026-11-01T00:00:00Z\n"
    )
    db = Database(home / "data" / "soldscope.db", MIGRATIONS)
    now = datetime.now(UTC)
    store_id = db.store_id(STORE)
    week = date(2026, 11, 15)
    left = rows
    while left > 0:
        count = min(WEEK_ROWS, left)
        load = db.search_terms.start_load(store_id, MARKETPLACE, week.isoformat(), "R", now)
        for start in range(0, count, BATCH):
            db.search_terms.add_rows(
                [
                    (
                        load,
                        store_id,
                        "Amazon.com",
                        f"search term {i // 3}",
                        i // 3 + 1,
                        f"B{i:09d}",
                        f"Clicked item name number {i}",
                        i % 3 + 1,
                        0.2359,
                        0.0823,
                    )
                    for i in range(start, min(start + BATCH, count))
                ]
            )
        db.search_terms.mark_loaded(
            store_id,
            MARKETPLACE,
            week.isoformat(),
            (week + timedelta(days=6)).isoformat(),
            report_id="R",
            status="DONE",
            row_count=count,
            at=now,
            load_id=load,
        )
        left -= count
        week -= timedelta(days=7)
    db.close()


def run(home: Path, fmt: str, rows: int) -> dict[str, float]:
    """Time one export as a whole process; its peak RSS from getrusage(RUSAGE_CHILDREN)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")},
        "SOLDSCOPE_CONFIG_DIR": str(home / "config"),
        "SOLDSCOPE_DATA_DIR": str(home / "data"),
        "SOLDSCOPE_SECRETS": "file",
    }
    target = home / f"export.{fmt}"
    started = time.perf_counter()
    proc = subprocess.run(
        [str(SOLDSCOPE), "export", "brand-analytics", "--format", fmt, "-o", str(target)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"export --format {fmt} failed: {proc.stderr}")
    # ru_maxrss of the children is the largest of them so far: each format runs in a fresh
    # interpreter (see main), so this is this export's peak.
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    lines = sum(1 for _ in target.open("rb"))
    expected = rows + 1 if fmt == "csv" else rows
    if lines != expected:
        raise SystemExit(f"{fmt}: {lines} lines, expected {expected}")
    return {
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "peak_rss_mb": peak_kb / 1024,
        "bytes": target.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "jsonl"), help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.format:  # one measurement in its own process, so RUSAGE_CHILDREN is this export's
        result = run(args.home, args.format, args.rows)
        print(
            f"{args.format:5}  {args.rows:,} rows in {result['seconds']:.2f} s = "
            f"{result['rows_per_s']:,.0f} rows/s; peak RSS {result['peak_rss_mb']:.1f} MB; "
            f"{result['bytes'] / 1e6:.0f} MB written"
        )
        return
    with tempfile.TemporaryDirectory(prefix="soldscope-export-bench-") as tmp:
        home = Path(tmp)
        started = time.perf_counter()
        build(home, args.rows)
        print(f"built {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
        for fmt in ("csv", "jsonl"):
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--rows",
                    str(args.rows),
                    "--format",
                    fmt,
                    "--home",
                    tmp,
                ],
                check=True,
            )


if __name__ == "__main__":
    main()
