"""benchmarks/orders_load.py with a small file, so that the benchmark cannot rot unnoticed: here
only the report's shape is asserted, not the figures."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from tests.pg import Cluster
from tests.prerequisites import require_soldscope

pytestmark = pytest.mark.e2e

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "orders_load.py"


def load_benchmark() -> ModuleType:
    # The benchmark imports its neighbour measure.py, as it does when run as a script.
    if str(BENCHMARK.parent) not in sys.path:
        sys.path.insert(0, str(BENCHMARK.parent))
    spec = importlib.util.spec_from_file_location("orders_load", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_orders_benchmark_loads_its_file_and_again_on_both_engines(
    pg_cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    require_soldscope()
    admin = pg_cluster.url("postgres")
    load_benchmark().main(["--rows", "3000", "--again", "--database-url", admin])
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
