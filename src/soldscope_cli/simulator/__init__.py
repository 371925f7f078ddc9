"""A local Amazon (Login with Amazon, Seller Central consent, SP-API) for tests, demos and CI."""

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
