"""benchmarks/settlements_load.py with a small document, so that the benchmark cannot rot
unnoticed: here only the report's shape is asserted, not the figures."""

from __future__ import annotations

import json

import pytest
from tests.benchmark_module import load_benchmark
from tests.pg import Cluster
from tests.prerequisites import require_soldscope

pytestmark = pytest.mark.e2e


def test_the_settlement_benchmark_loads_its_document_on_both_engines(
    pg_cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    require_soldscope()
    admin = pg_cluster.url("postgres")
    load_benchmark("settlements_load.py").main(["--lines", "3000", "--database-url", admin])
    out = capsys.readouterr().out
    results = json.loads(out.splitlines()[-1])
    assert [r["engine"] for r in results] == ["sqlite", "postgresql"]
    for r in results:
        assert r["rows"] == r["rows_added"] == 3001
        assert r["peak_rss_mb"] > 0 and r["load_rows_s"] > 0 and r["rows_per_cpu_s"] > 0
    assert "rows/CPU s" in out
    import psycopg

    with psycopg.connect(admin) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()]
    assert not [n for n in names if n.startswith("soldscope_settle_")]
