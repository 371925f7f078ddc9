"""A local Amazon (Login with Amazon, Seller Central consent, SP-API) for tests, demos and CI.

Product code never imports it (an import-linter contract says so); only `soldscope demo` and
`soldscope simulator serve` start it. It may use amazon/'s marketplace table and endpoint names.
"""

from soldscope_cli.simulator.clock import ManualClock
from soldscope_cli.simulator.demo import demo_scenario
from soldscope_cli.simulator.scenario import (
    Scenario,
    ScenarioError,
    SellerSettings,
    load_scenario,
    parse_scenario,
)
from soldscope_cli.simulator.server import Simulator

__all__ = [
    "ManualClock",
    "Scenario",
    "ScenarioError",
    "SellerSettings",
    "Simulator",
    "demo_scenario",
    "load_scenario",
    "parse_scenario",
]
