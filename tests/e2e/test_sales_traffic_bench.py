"""benchmarks/sales_traffic.py with a small fleet, so that the benchmark cannot rot unnoticed.

Its own checks run as in a real measurement (every store loaded, one createQuery per store, no
429 from the simulator's per-application quota); only the report's shape is asserted here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from tests.prerequisites import require_soldscope

pytestmark = pytest.mark.e2e

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "sales_traffic.py"


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sales_traffic_bench", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_fleet_benchmark_runs_and_checks_its_runs() -> None:
    require_soldscope()
    bench = load_benchmark()
    # 20 stores at 60 times Amazon's rate: the burst, then one query a second.
    report = bench.measure(20, 60.0, 4)
    assert report["create_query_calls"] == 20 and report["throttled"] == 0
    assert report["lower_bound_s"] == pytest.approx(5.0)
    assert report["wall_s"] >= report["lower_bound_s"]
    assert report["runs"] >= 2  # one run could not do it alone: the budget left stores over
