"""Benchmark: team-mode `soldscope sync` of many stores on 1, 2 and 4 worker processes at once.

Every worker is the installed command (`soldscope sync --json --concurrency C`) in a home of its
own, against one PostgreSQL database and the local simulator, which adds the same latency to every
request. The workers split the stores through the database's claims; the benchmark measures the
wall time until the last worker exits and reports stores/s per worker count and the ratio to one
worker, with the CPU of the simulator (it runs in this process), of the workers, of PostgreSQL
(when it is the throwaway cluster) and of the whole machine, to show where it saturates.

    python benchmarks/team_workers.py                        # 60 stores, 100 ms, workers 1,2,4
    python benchmarks/team_workers.py --repeat 5 --workers 1,2,3,4
    python benchmarks/team_workers.py --database-url postgresql://me@localhost/postgres
                                    # that server instead of a throwaway cluster: its role must
                                    # be allowed to create databases (dropped at the end)

Every run starts from the same state: the stores are connected once into a template database
(registry, sealed refresh tokens, nothing synced) and each run syncs a fresh copy of it. The
configurations are interleaved (a different order each repetition) and the medians are reported;
each run is checked: every worker exited 0, every store was synced by exactly one worker, and the
database holds exactly one sync run per store and dataset, all ok.

Targets (2 cores): ≥ 1.8× one worker's throughput at 2 workers, ≥ 3× at 4.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from measure import SOLDSCOPE, start_throwaway_cluster

from soldscope_cli.datasets import registry
from soldscope_cli.fleet.sealed import new_key_text
from soldscope_cli.simulator import Simulator, parse_scenario

DATASETS = registry.NAMES  # a sync without --dataset runs them all
# Per store eight requests: an LWA refresh, 2 inventory pages (60 items), 1 finances page (the
# first run's 30 days hold ~40 transactions) and one week of Brand Analytics (create, get,
# document, download of 200 rows): 0.8 s of waiting at 100 ms for ~50 KB of data, so a store's
# time is the latency, not soldscope's or the simulator's CPU.
INVENTORY_ITEMS = 60
TRANSACTIONS = 120
SEARCH_TERMS_ROWS = 200
BA_WEEKS = 1
# The default of `sync --concurrency`: the question is what adding processes buys at the setting
# a cron line or a systemd unit runs with.
CONCURRENCY = 4
# --no-notify: a benchmark home has no alert targets, and none should be tried.
# The datasets it was calibrated on, named: a dataset added since would change what is measured.
WORKER_ARGS = (
    "sync",
    *(arg for dataset in DATASETS for arg in ("--dataset", dataset)),
    "--json",
    "--concurrency",
    str(CONCURRENCY),
    "--ba-weeks",
    str(BA_WEEKS),
    "--no-notify",
)


@dataclass
class Run:
    """One run of N workers from the template's state."""

    workers: int
    wall_s: float
    simulator_cpu_s: float
    workers_cpu_s: float
    postgres_cpu_s: float | None  # the server's processes (None: not a cluster we started)
    machine_busy: float | None  # of all cores, 0..1, over the run (None without /proc/stat)
    requests: int
    startup_s: float | None  # median of the workers' launch → their "sync started"
    synced: list[int] = field(default_factory=list)  # stores each worker synced

    @property
    def stores_s(self) -> float:
        return sum(self.synced) / self.wall_s


def seller_id(i: int) -> str:
    return f"A{i:05d}TEAMBENCH"


def store_name(i: int) -> str:
    return f"bench-{i:03d}"


def scenario(stores: int) -> dict[str, Any]:
    return {
        # Rate limits off: this measures soldscope and its database, not Amazon's quotas.
        "rate_limits": {"enabled": False},
        # Reports are DONE on the first poll: no poll sleep, a week costs four requests.
        "reports": {"polls_in_queue": 0, "polls_in_progress": 0},
        "sellers": [
            {
                "selling_partner_id": seller_id(i),
                "region": "na",
                "marketplaces": ["US"],
                "inventory_items": INVENTORY_ITEMS,
                "transactions": TRANSACTIONS,
                "search_terms_rows": SEARCH_TERMS_ROWS,
            }
            for i in range(stores)
        ],
    }


# --- PostgreSQL: a throwaway cluster (tests/pg.py) or the given server -------------------------


@dataclass
class Server:
    """A server whose role may create databases; `pid`: its postmaster, when we started it."""

    url: str
    pid: int | None = None


@contextmanager
def server(database_url: str | None) -> Iterator[Server]:
    """The given server, else a throwaway cluster (tests/pg.py), stopped at the end."""
    if database_url is not None:
        yield Server(database_url)
        return
    cluster = start_throwaway_cluster()
    try:
        pid = int((cluster.root / "data" / "postmaster.pid").read_text().split()[0])
        yield Server(cluster.url("postgres"), pid)
    finally:
        cluster.stop()


def url_of(admin_url: str, name: str) -> str:
    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


def admin(admin_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(statement.encode())


def sync_runs(url: str) -> list[tuple[str, str, int, bool]]:
    """(store, dataset, runs, all ok) of the database."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT store, dataset, COUNT(*), bool_and(outcome = 'ok') FROM sync_runs GROUP BY 1, 2"
        ).fetchall()
    return [(str(s), str(d), int(n), bool(ok)) for s, d, n, ok in rows]


# --- homes and the command ---------------------------------------------------------------------


def base_env(sim: Simulator, url: str, key: str) -> dict[str, str]:
    app = sim.scenario.app
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")}
    return {
        **env,
        **sim.env(),
        "SOLDSCOPE_APP_ID": app.application_id,
        "SOLDSCOPE_LWA_CLIENT_ID": app.client_id,
        "SOLDSCOPE_LWA_CLIENT_SECRET": app.client_secret,
        "SOLDSCOPE_DATABASE_URL": url,
        "SOLDSCOPE_SECRETS": "database",
        "SOLDSCOPE_SECRETS_KEY": key,
    }


def home_env(env: dict[str, str], home: Path) -> dict[str, str]:
    """A host of its own: nothing in common with the others but the database."""
    return {
        **env,
        "SOLDSCOPE_CONFIG_DIR": str(home / "config"),
        "SOLDSCOPE_DATA_DIR": str(home / "data"),
    }


def soldscope(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(SOLDSCOPE), *args], env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"soldscope {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def prepare_template(sim: Simulator, url: str, key: str, stores: int, home: Path) -> None:
    """The team database as an operator leaves it: initialised, every store connected, unsynced.

    Through the command, as a person does it (setup time is not measured): `team init`, then
    `connect --refresh-token-stdin`, which checks each token with the simulator.
    """
    env = home_env(base_env(sim, url, key), home)
    soldscope(env, "team", "init")
    for i in range(stores):
        soldscope(
            env,
            "connect",
            store_name(i),
            "--marketplace",
            "US",
            "--selling-partner-id",
            seller_id(i),
            "--refresh-token-stdin",
            stdin=sim.authorize(seller_id(i)) + "\n",
        )
    listed = json.loads(soldscope(env, "list", "--json"))
    if len(listed) != stores:
        raise SystemExit(f"the template lists {len(listed)} stores, not {stores}")


# --- one run ---------------------------------------------------------------------------------


def cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine, from /proc/stat (None elsewhere)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def tree_cpu_s(pid: int | None) -> float | None:
    """CPU seconds of a process and its children, live or reaped (None without /proc)."""
    if pid is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # After the command's closing parenthesis: state, ppid, ... utime is field 14.
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a process that ended meanwhile: its parent has its time now
            if stat.parent.name == str(pid) or fields[1] == str(pid):
                total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    except OSError:
        return None
    return total / tick


def run_workers(
    sim: Simulator, pg: Server, template: str, key: str, n: int, stores: int, tmp: Path
) -> Run:
    """N workers at once on a fresh copy of the template; measured, then checked."""
    name = f"{template}_run{n}_{time.monotonic_ns()}"
    admin(pg.url, f"CREATE DATABASE {name} TEMPLATE {template}")
    url = url_of(pg.url, name)
    try:
        env = base_env(sim, url, key)
        homes = [tmp / name / f"worker-{w}" for w in range(n)]
        files = []
        for home in homes:
            home.mkdir(parents=True)
            files.append(((home / "stdout.json").open("w"), (home / "stderr.txt").open("w")))
        sim.reset_counters()
        ticks = cpu_ticks()
        postgres = tree_cpu_s(pg.pid)
        # The simulator serves from this process's threads; this process does nothing else
        # meanwhile (the workers' output goes to files, not pipes read here).
        cpu = time.process_time()
        launched = datetime.now()  # local time, as the sync log writes it
        started = time.perf_counter()
        processes = [
            subprocess.Popen(
                [str(SOLDSCOPE), *WORKER_ARGS],
                env=home_env(env, home),
                stdout=out,
                stderr=err,
            )
            for home, (out, err) in zip(homes, files, strict=True)
        ]
        codes, workers_cpu = [], 0.0
        for process in processes:
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            codes.append(process.returncode)
            workers_cpu += usage.ru_utime + usage.ru_stime
        wall = time.perf_counter() - started
        simulator_cpu = time.process_time() - cpu
        after = cpu_ticks()
        postgres_after = tree_cpu_s(pg.pid)
        requests = int(sim.counters()["total"])
        for out, err in files:
            out.close()
            err.close()
        synced = check(url, homes, codes, stores)
    finally:
        admin(pg.url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    busy = None
    if ticks and after and after[1] > ticks[1]:
        busy = (after[0] - ticks[0]) / (after[1] - ticks[1])
    postgres_cpu = None
    if postgres is not None and postgres_after is not None:
        postgres_cpu = postgres_after - postgres
    startup = statistics.median(startup_s(home, launched) for home in homes)
    return Run(n, wall, simulator_cpu, workers_cpu, postgres_cpu, busy, requests, startup, synced)


def startup_s(home: Path, launched: datetime) -> float:
    """Seconds from the worker's launch to its log's "sync started" line (Python's start,
    imports, the database's first connection, the fleet read), before it claims a store."""
    for line in (home / "data" / "soldscope.log").read_text().splitlines():
        if "sync started" in line:
            at = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            return (at - launched).total_seconds()
    raise SystemExit(f"no 'sync started' line in {home / 'data' / 'soldscope.log'}")


def check(url: str, homes: Sequence[Path], codes: Sequence[int], stores: int) -> list[int]:
    """Every worker exited 0 and every store was synced once; how many each worker synced."""
    for home, code in zip(homes, codes, strict=True):
        if code != 0:
            err = (home / "stderr.txt").read_text()[-2000:]
            raise SystemExit(f"a worker exited {code} ({home}): {err}")
    everyone = {store_name(i) for i in range(stores)}
    seen: set[str] = set()
    synced = []
    for home in homes:
        report = json.loads((home / "stdout.json").read_text())
        ok = {s["name"] for s in report["stores"] if s["outcome"] == "ok"}
        others = {s["name"]: s["outcome"] for s in report["stores"] if s["name"] not in ok}
        if any(outcome != "busy" for outcome in others.values()):
            raise SystemExit(f"{home}: stores neither ok nor busy: {others}")
        if ok & seen:
            # Claims skip a store synced since *this* run started: a worker that starts later
            # than another took for a store syncs it again, as any later run would.
            raise SystemExit(
                f"synced twice: {sorted(ok & seen)} (a worker started a store's sync time "
                "after another and synced again what that one had finished: raise --latency-ms)"
            )
        seen |= ok
        synced.append(len(ok))
    if seen != everyone:
        raise SystemExit(f"never synced: {sorted(everyone - seen)}")
    runs = sync_runs(url)
    expected = {(s, d) for s in everyone for d in DATASETS}
    if {(s, d) for s, d, _, _ in runs} != expected or any(n != 1 or not ok for *_, n, ok in runs):
        bad = [r for r in runs if r[2] != 1 or not r[3]]
        raise SystemExit(f"sync_runs is not one ok run per store and dataset: {bad[:10]}")
    return synced


# --- the benchmark -----------------------------------------------------------------------------


def bench(
    stores: int, latency_ms: float, workers: Sequence[int], repeat: int, database_url: str | None
) -> list[Run]:
    key = new_key_text()
    template = f"soldscope_bench_{os.getpid()}"
    with (
        server(database_url) as pg,
        Simulator(parse_scenario(scenario(stores))) as sim,
        tempfile.TemporaryDirectory(prefix="soldscope-bench-") as tmp,
    ):
        admin(pg.url, f"CREATE DATABASE {template}")
        try:
            prepare_template(sim, url_of(pg.url, template), key, stores, Path(tmp) / "setup")
            sim.set_latency(latency_ms)
            runs: list[Run] = []
            for r in range(repeat):
                # Interleaved, each repetition in another order: drift on a noisy machine falls
                # on every configuration alike.
                order = list(workers[r % len(workers) :]) + list(workers[: r % len(workers)])
                for n in order:
                    run = run_workers(sim, pg, template, key, n, stores, Path(tmp))
                    print(
                        f"  repeat {r + 1}: {n} worker(s): {run.wall_s:.2f} s,"
                        f" {run.stores_s:.1f} stores/s, split {run.synced}",
                        file=sys.stderr,
                    )
                    runs.append(run)
        finally:
            admin(pg.url, f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
    return runs


def median_share(values: Sequence[float | None]) -> float | None:
    """The median of values that every run has; None when a run lacks one."""
    if any(v is None for v in values):
        return None
    return round(statistics.median(v for v in values if v is not None), 3)


def summarise(runs: Sequence[Run], workers: Sequence[int]) -> list[dict[str, Any]]:
    """Medians per worker count; the ratio is of the median throughputs."""
    rows = []
    for n in workers:
        mine = [r for r in runs if r.workers == n]
        rows.append(
            {
                "workers": n,
                "runs": len(mine),
                "wall_s": round(statistics.median(r.wall_s for r in mine), 3),
                "stores_s": round(statistics.median(r.stores_s for r in mine), 2),
                "requests_s": round(statistics.median(r.requests / r.wall_s for r in mine), 1),
                "startup_s": median_share([r.startup_s for r in mine]),
                # CPU as cores over the wall time: 1.0 is one core busy for the whole run.
                "simulator_cores": median_share([r.simulator_cpu_s / r.wall_s for r in mine]),
                "workers_cores": median_share([r.workers_cpu_s / r.wall_s for r in mine]),
                "postgres_cores": median_share(
                    [
                        None if r.postgres_cpu_s is None else r.postgres_cpu_s / r.wall_s
                        for r in mine
                    ]
                ),
                # Of every core, whoever used it (other load on the machine included).
                "machine_busy": median_share([r.machine_busy for r in mine]),
            }
        )
    one = next((row["stores_s"] for row in rows if row["workers"] == 1), None)
    for row in rows:
        row["ratio"] = round(row["stores_s"] / one, 2) if one else None
    return rows


def shown(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=60)
    parser.add_argument("--latency-ms", type=float, default=100.0, help="on every request")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per worker count")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL whose role may create databases (default: a throwaway "
        "cluster started with initdb and pg_ctl)",
    )
    options = parser.parse_args(argv)
    workers = [int(w) for w in options.workers.split(",")]
    runs = bench(options.stores, options.latency_ms, workers, options.repeat, options.database_url)
    rows = summarise(runs, workers)
    print(
        f"{options.stores} stores, {options.latency_ms:g} ms a request, --concurrency"
        f" {CONCURRENCY} per worker, {os.cpu_count()} cores, medians of {options.repeat}:"
    )
    print(
        f"{'workers':>7} {'wall':>8} {'stores/s':>9} {'ratio':>6} {'requests/s':>11} {'startup':>8}"
        f" {'simulator':>10} {'workers':>8} {'PostgreSQL':>11} {'machine busy':>13}"
    )
    for row in rows:
        print(
            f"{row['workers']:>7} {row['wall_s']:>6.2f} s {row['stores_s']:>9.2f}"
            f" {shown(row['ratio'], '.2f'):>5}× {row['requests_s']:>11.0f}"
            f" {shown(row['startup_s'], '.2f'):>6} s"
            f" {shown(row['simulator_cores'], '.2f'):>10} {shown(row['workers_cores'], '.2f'):>8}"
            f" {shown(row['postgres_cores'], '.2f'):>11} {shown(row['machine_busy'], '.0%'):>13}"
        )
    print(
        "(startup: a worker's launch to its sync's start; CPU in cores over the wall time;"
        " machine busy counts every process on the machine)"
    )
    print(
        json.dumps(
            {
                "benchmark": "team_workers",
                "stores": options.stores,
                "latency_ms": options.latency_ms,
                "concurrency": CONCURRENCY,
                "repeat": options.repeat,
                "cores": os.cpu_count(),
                "results": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
