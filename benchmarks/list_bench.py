"""Benchmark: `soldscope list` with 1,000 stores, as a table and as JSON (median of N runs).

Run: python benchmarks/list_bench.py [--stores 1000] [--runs 15]
Baselines measured in the same run: `python -c pass` and `python -c "import typer, rich.console"`.
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
    args = parser.parse_args()
    soldscope = str(Path(sys.executable).parent / "soldscope")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "SOLDSCOPE_CONFIG_DIR": f"{tmp}/config",
            "SOLDSCOPE_DATA_DIR": f"{tmp}/data",
        }
        write_config(Path(tmp) / "config", args.stores)
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("import typer + rich", [sys.executable, "-c", "import typer, rich.console"]),
            (f"soldscope list ({args.stores} stores, table)", [soldscope, "list"]),
            (f"soldscope list --json ({args.stores} stores)", [soldscope, "list", "--json"]),
            (f"soldscope list ({args.stores} stores, terminal table)", [soldscope, "list"]),
        ]
        env["COLUMNS"] = "200"
        samples: dict[str, list[float]] = {label: [] for label, _ in rows}
        subprocess.run(
            [soldscope, "list"], env=env, capture_output=True, check=False
        )  # warm caches
        # Round-robin, so a burst of load on this shared machine hits every command alike.
        for _ in range(args.runs):
            for label, cmd in rows:
                samples[label].append(run_once(cmd, env, tty="terminal" in label))
        print(f"median of {args.runs} interleaved runs, {os.cpu_count()} cores")
        base = statistics.median(samples[rows[1][0]])
        for label, _ in rows:
            median = statistics.median(samples[label])
            print(f"  {label:<50} {median * 1000:7.0f} ms  ({median / base:4.2f}x typer+rich)")


if __name__ == "__main__":
    main()
