"""benchmarks/team_workers.py with tiny parameters, so that the benchmark cannot rot unnoticed.

Its own checks run as in a real measurement (every worker exits 0, every store is synced once,
one sync run per store and dataset); here only the report's shape is asserted, not the figures.
"""

from __future__ import annotations

import json

import pytest
from tests.benchmark_module import load_benchmark
from tests.pg import Cluster
from tests.prerequisites import require_soldscope

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("server", ["own cluster", "given server"])
def test_the_worker_benchmark_runs_and_checks_its_runs(
    server: str, pg_cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    require_soldscope()
    # 200 ms a request makes a store take 1.6 s, well beyond the gap between the workers' starts
    # on a loaded machine: a worker that starts after another finished a store syncs it again
    # (docs/team.md#scaling-out), which the benchmark's check would rightly refuse.
    # Two workers on the benchmark's own cluster; one on a given server, whose part is only
    # where the databases go (and that none is left behind).
    workers = "1,2" if server == "own cluster" else "1"
    args = ["--stores", "3", "--latency-ms", "200", "--workers", workers, "--repeat", "1"]
    if server == "given server":
        args += ["--database-url", pg_cluster.url("postgres")]
    load_benchmark("team_workers.py").main(args)
    out = capsys.readouterr().out
    report = json.loads(out.splitlines()[-1])
    assert report["stores"] == 3 and report["concurrency"] == 4
    results = report["results"]
    assert [row["workers"] for row in results] == [int(n) for n in workers.split(",")]
    assert results[0]["ratio"] == 1.0 and results[-1]["ratio"] > 0
    assert all(row["stores_s"] > 0 and row["simulator_cores"] > 0 for row in results)
    # The server's CPU is measured only on a cluster the benchmark started itself.
    assert (results[0]["postgres_cores"] is None) == (server == "given server")
    assert "stores/s" in out
    # Nothing left behind on the given server: the template and every run's copy are dropped.
    import psycopg

    with psycopg.connect(pg_cluster.url("postgres")) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()]
    assert not [n for n in names if n.startswith("soldscope_bench_")]
