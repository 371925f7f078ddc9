"""benchmarks/sales_traffic.py with a small fleet, so that the benchmark cannot rot unnoticed.

Its own checks run as in a real measurement (every store loaded, one createQuery per store, no
429 from the simulator's per-application quota); only the report's shape is asserted here.
"""

from __future__ import annotations

import pytest
from tests.benchmark_module import load_benchmark
from tests.prerequisites import require_soldscope

pytestmark = pytest.mark.e2e


def test_the_fleet_benchmark_runs_and_checks_its_runs() -> None:
    require_soldscope()
    bench = load_benchmark("sales_traffic.py")
    # 20 stores at 60 times Amazon's rate: the burst, then one query a second.
    report = bench.measure(20, 60.0, 4)
    assert report["create_query_calls"] == 20 and report["throttled"] == 0
    assert report["lower_bound_s"] == pytest.approx(5.0)
    assert report["wall_s"] >= report["lower_bound_s"]
    assert report["runs"] >= 2  # one run could not do it alone: the budget left stores over
