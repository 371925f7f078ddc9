"""Benchmark: `soldscope list` with 1,000 stores, as a table and as JSON (median of N runs).

Run: python benchmarks/list_bench.py [--stores 1000] [--runs 15] [--history-days 400]
Baselines measured in the same run: `python -c pass` and `python -c "import typer, rich.console"`.
The home has a state database with a realistic history: for every store one check a day (some of
them problems or incomplete), one sync run a day and one event a day, over --history-days days
(1,000 stores × 400 days: 400k checks, 400k sync runs, 400k events). `list` reads it for every
store; the same command against a home without a database is measured alongside.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

MARKETS = {"na": ["US", "CA"], "eu": ["UK", "DE", "FR"], "fe": ["JP"]}


def write_config(config_dir: Path, count: int) -> None:
    """A config with `count` stores spread over regions and ages."""
    now = datetime.now(UTC)
    lines = []
    for i in range(count):
        region = ("na", "eu", "fe")[i % 3]
        authorized = now - timedelta(days=(i * 7) % 420, hours=i % 24)
        markets = ", ".join(f'"{m}"' for m in MARKETS[region])
        lines.append(
            f'[stores.client-{i:04d}]\nregion = "{region}"\nmarketplaces = [{markets}]\n'
            f'selling_partner_id = "A{i:013d}"\n'
            f"authorized_at = {authorized.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
        )
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.toml").write_text("\n".join(lines))


def write_history(db_path: Path, count: int, days: int) -> dict[str, int]:
    """The state database of a fleet that has been validated and synced daily for `days` days."""
    from soldscope_cli.db.database import MIGRATIONS, Database, to_db_time

    db = Database(db_path, MIGRATIONS)
    ids = [db.store_id(f"client-{i:04d}") for i in range(count)]
    now = datetime.now(UTC)
    conn = db.connection()
    with db.transaction() as tx:
        for day in range(days, 0, -1):
            at = to_db_time(now - timedelta(days=day))
            checks, runs, events = [], [], []
            for i, store_id in enumerate(ids):
                name = f"client-{i:04d}"
                outcome = "problem" if (i + day) % 97 == 0 else "ok"
                if (i + day) % 13 == 0:
                    outcome = "incomplete"
                code = {"problem": "forbidden", "incomplete": "transient"}.get(outcome)
                checks.append((store_id, name, at, "validate", outcome, code, code, "req"))
                runs.append((store_id, name, "inventory", at, at, "ok", 3, 1))
                events.append((at, store_id, name, "checked", '{"outcome": "ok"}'))
            tx.executemany(
                "INSERT INTO checks (store_id, store, checked_at, source, outcome, error_code,"
                " error_message, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                checks,
            )
            tx.executemany(
                "INSERT INTO sync_runs (store_id, store, dataset, started_at, finished_at,"
                " outcome, rows_added, rows_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                runs,
            )
            tx.executemany(
                "INSERT INTO events (at, store_id, store, kind, detail) VALUES (?, ?, ?, ?, ?)",
                events,
            )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    sizes = {
        table: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608
        for table in ("checks", "sync_runs", "events")
    }
    db.close()
    return sizes


def run_once(cmd: list[str], env: dict[str, str], tty: bool) -> float:
    """Wall time of one run; stdout to a pipe, or to a pseudo-terminal like a person's shell."""
    start = time.perf_counter()
    if tty:
        import pty

        master, slave = pty.openpty()
        proc = subprocess.Popen(cmd, env=env, stdout=slave, stderr=subprocess.DEVNULL)
        os.close(slave)
        while True:
            try:
                if not os.read(master, 65536):
                    break
            except OSError:
                break
        proc.wait()
        os.close(master)
    else:
        subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--history-days", type=int, default=400)
    args = parser.parse_args()
    soldscope = str(Path(sys.executable).parent / "soldscope")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "SOLDSCOPE_CONFIG_DIR": f"{tmp}/config",
            "SOLDSCOPE_DATA_DIR": f"{tmp}/data",
        }
        write_config(Path(tmp) / "config", args.stores)
        began = time.perf_counter()
        sizes = write_history(Path(tmp) / "data" / "soldscope.db", args.stores, args.history_days)
        print(
            f"state database: {sizes['checks']:,} checks, {sizes['sync_runs']:,} sync runs, "
            f"{sizes['events']:,} events ({(Path(tmp) / 'data' / 'soldscope.db').stat().st_size / 1e6:.0f}"
            f" MB, built in {time.perf_counter() - began:.0f} s)"
        )
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("import typer + rich", [sys.executable, "-c", "import typer, rich.console"]),
            (f"soldscope list ({args.stores} stores, table)", [soldscope, "list"]),
            (f"soldscope list --json ({args.stores} stores)", [soldscope, "list", "--json"]),
            (f"soldscope list ({args.stores} stores, terminal table)", [soldscope, "list"]),
            (
                f"soldscope list --json ({args.stores} stores, no database)",
                [soldscope, "list", "--json"],
            ),
        ]
        env["COLUMNS"] = "200"
        bare = {**env, "SOLDSCOPE_DATA_DIR": f"{tmp}/no-data"}
        samples: dict[str, list[float]] = {label: [] for label, _ in rows}
        subprocess.run(
            [soldscope, "list"], env=env, capture_output=True, check=False
        )  # warm caches
        # Round-robin, so a burst of load on this shared machine hits every command alike.
        for _ in range(args.runs):
            for label, cmd in rows:
                run_env = bare if "no database" in label else env
                samples[label].append(run_once(cmd, run_env, tty="terminal" in label))
        print(f"median of {args.runs} interleaved runs, {os.cpu_count()} cores")
        base = statistics.median(samples[rows[1][0]])
        for label, _ in rows:
            median = statistics.median(samples[label])
            print(f"  {label:<50} {median * 1000:7.0f} ms  ({median / base:4.2f}x typer+rich)")


if __name__ == "__main__":
    main()
