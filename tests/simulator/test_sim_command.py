"""`soldscope simulator serve`: wiring, the printed exports, bad scenario files, Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from soldscope_cli.commands.simulator import (
    build_simulator,
    export_lines,
    run_serve,
    simulator_app,
)
from soldscope_cli.errors import ConfigError, UsageError
from soldscope_cli.simulator import Simulator
from tests.prerequisites import require_soldscope

from .support import scenario_data


def test_run_serve_prints_exports_serves_and_stops() -> None:
    out, err = io.StringIO(), io.StringIO()
    simulator = Simulator.demo(port=0)
    seen: dict[str, object] = {}

    def wait() -> None:
        env = dict(
            line.removeprefix("export ").split("=", 1) for line in out.getvalue().splitlines()
        )
        seen["env"] = env
        seen["health"] = httpx.get(env["SOLDSCOPE_SPAPI_URL"] + "/_admin/health").json()
        raise KeyboardInterrupt

    run_serve(simulator, out=out, err=err, wait=wait)
    env = seen["env"]
    assert isinstance(env, dict)
    assert env["SOLDSCOPE_LWA_URL"].endswith("/auth/o2/token")
    assert env["SOLDSCOPE_SELLER_CENTRAL_URL"] == env["SOLDSCOPE_SPAPI_URL"]
    assert seen["health"] == {"ok": True, "now": simulator.clock()["now"]}
    assert not simulator.running
    assert "press Ctrl-C" in err.getvalue()
    assert "stopped" in err.getvalue()
    assert "secret" not in err.getvalue() + out.getvalue()


def test_export_lines_quote_for_the_shell() -> None:
    assert export_lines({"B": "x y", "A": "http://h:1"}) == [
        "export A=http://h:1",
        "export B='x y'",
    ]


def test_port_in_use_is_a_usage_error() -> None:
    with Simulator.demo() as busy:
        taken = Simulator.demo(port=int(busy.url.rsplit(":", 1)[1]))
        with pytest.raises(UsageError, match="cannot listen"):
            run_serve(taken, out=io.StringIO(), err=io.StringIO(), wait=lambda: None)


def test_build_simulator_reads_json_scenarios(tmp_path: Path) -> None:
    path = tmp_path / "ci.json"
    path.write_text(json.dumps(scenario_data()), encoding="utf-8")
    simulator = build_simulator(path, "127.0.0.1", 0)
    assert [s.store_name for s in simulator.scenario.sellers] == ["Test North", "Test Europe"]
    assert len(build_simulator(None, "127.0.0.1", 0).scenario.sellers) == 7


def test_bad_scenario_reaches_the_command_as_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[sellers]]\nregion = 1\n", encoding="utf-8")
    result = CliRunner().invoke(simulator_app, ["serve", "--scenario", str(bad)])
    assert isinstance(result.exception, ConfigError)
    assert "sellers[0]" in result.exception.message


def test_serve_in_a_process_until_ctrl_c(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text("[consent]\nauto_confirm = true\n", encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "soldscope_cli",
            "simulator",
            "serve",
            "--port",
            "0",
            "--scenario",
            str(scenario),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        env = dict(line.strip().removeprefix("export ").split("=", 1) for line in lines)
        assert set(env) == {
            "SOLDSCOPE_LWA_URL",
            "SOLDSCOPE_SPAPI_URL",
            "SOLDSCOPE_SELLER_CENTRAL_URL",
        }
        consent = httpx.get(env["SOLDSCOPE_SELLER_CENTRAL_URL"] + "/_admin/consent").json()
        assert consent["auto_confirm"] is True
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "simulator stopped" in stderr


def test_the_ci_recipe_in_the_docs_leaves_no_simulator_behind(tmp_path: Path) -> None:
    """docs/simulator.md's CI script, run by `sh` as written: its trap must stop the simulator.

    sh starts background jobs ignoring SIGINT, so a `kill -INT` trap left the simulator running.
    """
    soldscope = require_soldscope()
    docs = (Path(__file__).parents[2] / "docs" / "simulator.md").read_text()
    recipe = docs.split("## Testing your own scripts in CI", 1)[1].split("```sh\n", 1)[1]
    lines = recipe.split("```", 1)[0].splitlines()
    # The recipe's own start-up lines, as printed; the job itself is replaced by recording the pid.
    setup = lines[: lines.index(". ./sim.env") + 1]
    assert any("trap" in line for line in setup), setup
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "scenario.toml").write_text(
        '[[sellers]]\nselling_partner_id = "A1CI0000000001"\nregion = "na"\nmarketplaces = ["US"]\n'
    )
    health = (
        f"{sys.executable} -c 'import os, urllib.request; print(urllib.request.urlopen("
        'os.environ["SOLDSCOPE_SPAPI_URL"] + "/_admin/health").read().decode())\' > health.json'
    )
    script = "\n".join([*setup, 'echo "$SIM_PID" > sim.pid', health])
    env = {**os.environ, "PATH": f"{soldscope.parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["sh", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "health.json").read_text())
    pid = int((tmp_path / "sim.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the trap stopped it before sh exited
    assert "# simulator stopped" in (tmp_path / "sim.log").read_text()
