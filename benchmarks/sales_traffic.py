"""Benchmark: `soldscope sync --dataset sales-traffic` of a fleet under Data Kiosk's shared budget.

Every store needs one createQuery, and the application's budget allows a burst of 15 and then one
a minute: 200 stores need at least (200 - 15) minutes = 185 minutes of real time, whatever the
schedule. The benchmark declares a faster rate to the simulator (`[data_kiosk] queries_per_hour`)
and the same rate to the client (`--st-queries-per-hour`), runs the installed command back to back
as a cron would (a run that finds the budget empty leaves its stores for the next run), until
every store has loaded its days, and reports the wall time against the budget's own lower bound.

    python benchmarks/sales_traffic.py                      # 200 stores, 60× Amazon's rate
    python benchmarks/sales_traffic.py --stores 50 --scale 600

It checks what it measures: every store loaded once, the simulator never answered 429 (the
client never went over the budget) and createQuery was called once per store.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, token_key
from soldscope_cli.simulator import Simulator, parse_scenario
from soldscope_cli.sync.sales_traffic import AMAZON_BURST

CLIENT_ID = "amzn1.application-oa2-client.benchmark000000002"
SECRET = "amzn1.oa2-cs.v1.benchmark-secret-st"
SOLDSCOPE = Path(sys.executable).parent / "soldscope"
AMAZON_PER_HOUR = 60  # createQuery: 0.0167 per second
STALL_INTERVALS = 10  # the budget's intervals without a store loaded that mean the runs are stuck


def seller_id(index: int) -> str:
    return f"A1STBENCH{index:05d}"


def scenario(stores: int, per_hour: float) -> dict[str, Any]:
    return {
        "app": {"client_id": CLIENT_ID, "client_secret": SECRET},
        "rate_limits": {"enabled": False},
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "data_kiosk": {"queries_per_hour": per_hour, "burst": AMAZON_BURST},
        "sellers": [
            {
                "selling_partner_id": seller_id(i),
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": 2,
            }
            for i in range(stores)
        ],
    }


def prepare(home: Path, sim: Simulator, stores: int) -> dict[str, str]:
    """Config and file secrets for the fleet; returns the environment of the command."""
    (home / "config").mkdir(parents=True)
    (home / "data").mkdir(parents=True)
    config = textwrap.dedent(
        f"""
        [app]
        application_id = "amzn1.sp.solution.benchmark-st"
        client_id = "{CLIENT_ID}"
        """
    )
    secrets = {CLIENT_SECRET_KEY: SECRET}
    for i in range(stores):
        name = f"store-{i:05d}"
        config += textwrap.dedent(
            f"""
            [stores.{name}]
            region = "na"
            marketplaces = ["US"]
            selling_partner_id = "{seller_id(i)}"
            authorized_at = 2026-11-01T00:00:00Z
            """
        )
        secrets[token_key(name)] = sim.authorize(seller_id(i))
    (home / "config" / "config.toml").write_text(config)
    secrets_file = home / "data" / "secrets.json"
    secrets_file.write_text(json.dumps(secrets))
    secrets_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")}
    return {
        **env,
        "SOLDSCOPE_CONFIG_DIR": str(home / "config"),
        "SOLDSCOPE_DATA_DIR": str(home / "data"),
        "SOLDSCOPE_SECRETS": "file",
        **sim.env(),
    }


def loaded_stores(home: Path) -> int:
    """Stores whose days are loaded (their `through` mark is written with their rows)."""
    path = home / "data" / "soldscope.db"
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        found = conn.execute(
            "SELECT COUNT(DISTINCT store_id) FROM sync_state"
            " WHERE dataset = 'sales-traffic' AND key = 'through'"
        ).fetchone()
        return int(found[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def measure(stores: int, scale: float, concurrency: int) -> dict[str, Any]:
    """Sync the fleet to the end under the scaled budget; the figures and the checks."""
    per_hour = AMAZON_PER_HOUR * scale
    rate = per_hour / 3600.0
    with (
        tempfile.TemporaryDirectory() as tmp,
        Simulator(parse_scenario(scenario(stores, per_hour))) as sim,
    ):
        home = Path(tmp)
        env = prepare(home, sim, stores)
        args = [
            str(SOLDSCOPE), "sync", "--dataset", "sales-traffic", "--json",
            "--concurrency", str(concurrency), "--st-queries-per-hour", str(int(per_hour)),
        ]  # fmt: skip
        runs = 0
        started = progressed = time.perf_counter()
        loaded = 0
        while loaded < stores:
            runs += 1
            done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"sync exited {done.returncode}: {done.stderr[-2000:]}")
            now, before = time.perf_counter(), loaded
            loaded = loaded_stores(home)
            if loaded > before:
                progressed = now
            # A run shorter than the budget's interval may find no token and load nothing, as
            # a cron run would: only a long spell without any store loaded is a failure.
            elif now - progressed > STALL_INTERVALS / rate + 30:
                raise SystemExit("the fleet did not finish: no store loaded for a long time")
        wall = time.perf_counter() - started
        counters = sim.counters()
    creates = int(counters["by_operation"].get("createQuery", 0))
    throttled = int(counters["by_status"].get("429", 0))
    if creates != stores or throttled:
        raise SystemExit(
            f"check failed: {creates} createQuery calls for {stores}, {throttled} 429s"
        )
    lower = max(0, stores - AMAZON_BURST) / rate
    return {
        "stores": stores,
        "scale": scale,
        "queries_per_hour": per_hour,
        "runs": runs,
        "wall_s": round(wall, 2),
        "lower_bound_s": round(lower, 2),
        "ratio": round(wall / lower, 3) if lower else None,
        "lower_bound_at_amazons_rate_min": max(0, stores - AMAZON_BURST),
        "create_query_calls": creates,
        "throttled": throttled,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--scale", type=float, default=60.0, help="times Amazon's createQuery rate")
    parser.add_argument("--concurrency", type=int, default=4)
    opts = parser.parse_args()
    print(json.dumps(measure(opts.stores, opts.scale, opts.concurrency), indent=2))


if __name__ == "__main__":
    main()
