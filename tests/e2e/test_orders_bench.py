"""benchmarks/orders_load.py with a small file, so that the benchmark cannot rot unnoticed: here
only the report's shape is asserted, not the figures."""

from __future__ import annotations

import json

import pytest
from tests.benchmark_module import load_benchmark
from tests.pg import Cluster
from tests.prerequisites import require_soldscope

pytestmark = pytest.mark.e2e


def test_the_orders_benchmark_loads_its_file_and_again_on_both_engines(
    pg_cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    require_soldscope()
    admin = pg_cluster.url("postgres")
    load_benchmark("orders_load.py").main(["--rows", "3000", "--again", "--database-url", admin])
    out = capsys.readouterr().out
    results = json.loads(out[out.index("\n[") + 1 :])
    assert [r["engine"] for r in results] == [
        "sqlite",
        "sqlite again",
        "postgresql",
        "postgresql again",
    ]
    for r in results:
        assert r["rows"] == 3000, r
        assert r["rss_mb"] > 0 and r["rows_s"] > 0 and r["load_rows_s"] > 0, r
    assert "load rows/s" in out
