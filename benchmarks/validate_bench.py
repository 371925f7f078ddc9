"""How fast `soldscope validate` checks many stores against a slow Amazon (the local simulator).

Every request to the simulator takes an extra 50 ms; a check is two requests (LWA refresh and
getMarketplaceParticipations), so with N stores and concurrency C the ideal wall time is
ceil(N / C) × 2 × 50 ms. The simulator's rate limits are switched off: this measures soldscope.

    /work/venv/bin/python benchmarks/validate_bench.py [--stores 500] [--runs 3] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from soldscope_cli.simulator import Simulator, parse_scenario

SOLDSCOPE = Path(sys.executable).parent / "soldscope"


def scenario(stores: int, latency_ms: float) -> Simulator:
    """A simulator with one NA seller per store, fixed latency and no rate limits."""
    sellers = [
        {"selling_partner_id": f"A1BENCH{i:06d}", "region": "na", "marketplaces": ["US"]}
        for i in range(stores)
    ]
    return Simulator(
        parse_scenario(
            {
                "sellers": sellers,
                "rate_limits": {"enabled": False},
                "latency": {"default_ms": latency_ms},
            }
        )
    )


def seed(home: Path, sim: Simulator, stores: int) -> None:
    """Config and file secrets written directly (connecting 500 stores one by one is not measured)."""
    config, data = home / "config", home / "data"
    config.mkdir(parents=True)
    data.mkdir(parents=True)
    lines = ["# benchmark stores\n"]
    secrets: dict[str, str] = {}
    for i in range(stores):
        name = f"bench-{i:04d}"
        lines.append(
            f'[stores.{name}]\nregion = "na"\nmarketplaces = ["US"]\n'
            f'selling_partner_id = "A1BENCH{i:06d}"\nauthorized_at = 2026-11-01T00:00:00Z\n\n'
        )
        secrets[f"refresh-token:{name}"] = sim.authorize(f"A1BENCH{i:06d}")
    (config / "config.toml").write_text("".join(lines))
    path = data / "secrets.json"
    path.write_text(json.dumps(secrets))
    path.chmod(0o600)


def run(env: dict[str, str], *args: str) -> float:
    """Wall seconds of one `soldscope ...` run (which must succeed)."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(SOLDSCOPE), *args], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"soldscope {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return elapsed


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-sequential", action="store_true")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, scenario(options.stores, options.latency_ms) as sim:
        home = Path(tmp)
        seed(home, sim, options.stores)
        app = sim.scenario.app
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")},
            **sim.env(),
            "SOLDSCOPE_CONFIG_DIR": str(home / "config"),
            "SOLDSCOPE_DATA_DIR": str(home / "data"),
            "SOLDSCOPE_SECRETS": "file",
            "SOLDSCOPE_APP_ID": app.application_id,
            "SOLDSCOPE_LWA_CLIENT_ID": app.client_id,
            "SOLDSCOPE_LWA_CLIENT_SECRET": app.client_secret,
        }
        startup = statistics.median(run(env, "--version") for _ in range(3))
        ideal = math.ceil(options.stores / options.concurrency) * 2 * options.latency_ms / 1000
        runs = [
            run(env, "validate", "--concurrency", str(options.concurrency))
            for _ in range(options.runs)
        ]
        median = statistics.median(runs)
        print(f"stores: {options.stores}, latency: {options.latency_ms:g} ms/request")
        print(f"process start-up (soldscope --version): {startup:.2f} s")
        print(
            f"validate --concurrency {options.concurrency}: median {median:.2f} s of "
            f"{', '.join(f'{r:.2f}' for r in runs)}; ideal {ideal:.2f} s; "
            f"ratio {median / ideal:.2f}x (target <= 1.30x)"
        )
        if not options.skip_sequential:
            sequential = run(env, "validate", "--concurrency", "1")
            ideal_1 = options.stores * 2 * options.latency_ms / 1000
            print(
                f"validate --concurrency 1: {sequential:.2f} s (ideal {ideal_1:.2f} s); "
                f"speed-up {sequential / median:.1f}x"
            )
        print(f"simulator counted {sim.counters()['total']} requests")


if __name__ == "__main__":
    main()
