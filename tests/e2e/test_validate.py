"""`soldscope connect --refresh-token-stdin` and `validate`, installed, against the local simulator."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import SOLDSCOPE, Cli, simulator_env
from tests.prerequisites import require_soldscope

from soldscope_cli.simulator import Simulator, parse_scenario

pytestmark = pytest.mark.e2e

SELLERS = {"acme-us": "A1E2EACME0001", "bolt-us": "A1E2EBOLT0002", "cora-eu": "A2E2ECORA0003"}
APP_REJECTED = (
    "LWA rejected the app's client credentials — rotate the secret: "
    "soldscope app set --client-secret-stdin"
)


@dataclass
class World:
    """A simulator and the installed command pointed at it, with three connected stores."""

    sim: Simulator
    cli: Cli

    def validate(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> tuple[int, list[dict[str, Any]], str]:
        result = self.cli.run("validate", "--json", *args, env=env, timeout=timeout)
        return result.returncode, json.loads(result.stdout or "[]"), result.stderr

    def statuses(self) -> dict[str, str]:
        listed = self.cli.run("list", "--json")
        return {row["name"]: row["status"] for row in json.loads(listed.stdout)}


def scenario() -> dict[str, Any]:
    return {
        "sellers": [
            {
                "selling_partner_id": SELLERS["acme-us"],
                "region": "na",
                "marketplaces": ["US", "CA"],
                "extra_marketplace_ids": ["A2ZV50J4W1RKNI"],
            },
            {"selling_partner_id": SELLERS["bolt-us"], "region": "na", "marketplaces": ["US"]},
            {"selling_partner_id": SELLERS["cora-eu"], "region": "eu", "marketplaces": ["DE"]},
        ]
    }


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    require_soldscope()
    with Simulator(parse_scenario(scenario())) as sim:
        cli = Cli(tmp_path, simulator_env(sim))
        markets = {"acme-us": ["US", "CA"], "bolt-us": ["US"], "cora-eu": ["DE"]}
        for name, seller in SELLERS.items():
            flags = [arg for code in markets[name] for arg in ("--marketplace", code)]
            done = cli.run(
                "connect",
                name,
                *flags,
                "--selling-partner-id",
                seller,
                "--refresh-token-stdin",
                input=sim.authorize(seller) + "\n",
            )
            assert done.returncode == 0, done.stderr
        yield World(sim, cli)


def test_all_healthy(world: World) -> None:
    code, rows, stderr = world.validate()
    assert code == 0, stderr
    assert {r["name"]: (r["status"], r["check"]["outcome"]) for r in rows} == {
        name: ("active", "ok") for name in SELLERS
    }
    assert all(r["check"]["request_id"] for r in rows)
    assert stderr == ""


def test_revoked_grant_is_an_error(world: World) -> None:
    world.sim.revoke(SELLERS["bolt-us"])
    code, rows, _ = world.validate()
    assert code == 1
    bolt = next(r for r in rows if r["name"] == "bolt-us")
    assert (bolt["status"], bolt["error"]["code"]) == ("error", "invalid_grant")
    assert world.statuses() == {"acme-us": "active", "bolt-us": "error", "cora-eu": "active"}


def test_removed_role_is_an_error(world: World) -> None:
    world.sim.remove_role(SELLERS["cora-eu"], "sellers")
    code, rows, _ = world.validate("cora-eu")
    assert code == 1
    assert rows[0]["error"]["code"] == "forbidden"
    assert "Access to requested resource is denied." in rows[0]["error"]["message"]
    assert rows[0]["check"]["request_id"]


def test_dropped_marketplace_is_an_error(world: World) -> None:
    world.sim.drop_marketplace(SELLERS["acme-us"], "CA")
    code, rows, _ = world.validate()
    assert code == 1
    acme = next(r for r in rows if r["name"] == "acme-us")
    assert acme["error"]["code"] == "marketplace_mismatch"
    assert "CA" in acme["error"]["message"]


def test_two_503s_then_ok_is_active(world: World) -> None:
    world.sim.add_failure(503, count=2, path_prefix="/sellers/")
    code, rows, stderr = world.validate("--concurrency", "1")
    assert code == 0, stderr
    assert {r["status"] for r in rows} == {"active"}


def test_persistent_503_changes_nothing_and_exits_3(world: World) -> None:
    world.sim.revoke(SELLERS["bolt-us"])
    assert world.validate("bolt-us")[0] == 1
    world.sim.add_failure(503, count=None, path_prefix="/sellers/")
    started = time.monotonic()
    code, rows, stderr = world.validate()
    assert time.monotonic() - started < 20
    # bolt-us is still in error from the last conclusive check, so this run is not "all fine".
    assert code == 1
    assert {r["name"]: r["check"]["outcome"] for r in rows}["acme-us"] == "incomplete"
    assert world.statuses() == {"acme-us": "active", "bolt-us": "error", "cora-eu": "active"}
    code, rows, stderr = world.validate("acme-us", "cora-eu")
    assert code == 3, stderr
    assert {r["status"] for r in rows} == {"active"}
    assert "could not complete" in stderr


def test_rejected_client_secret_changes_nothing_and_exits_1(world: World) -> None:
    world.sim.expire_client_secret()
    result = world.cli.run("validate")
    assert result.returncode == 1
    assert result.stderr.count(APP_REJECTED) == 1
    # One message, as docs/validate.md promises: no app_error line or Problem cell per store.
    assert "app_error" not in result.stdout and "not checked" not in result.stdout
    assert "invalid_client" not in result.stdout
    assert world.statuses() == dict.fromkeys(SELLERS, "active")
    assert world.sim.scenario.app.client_secret not in result.stdout + result.stderr


def test_429_retry_after_is_honoured(world: World) -> None:
    world.sim.add_failure(429, count=1, path_prefix="/sellers/", retry_after=2)
    started = time.monotonic()
    code, rows, stderr = world.validate(
        "acme-us", env={"SOLDSCOPE_RETRY_MAX_TOTAL": "10"}, timeout=15
    )
    waited = time.monotonic() - started
    assert code == 0, stderr
    assert rows[0]["status"] == "active"
    assert 2.0 <= waited < 5.0


def test_an_empty_secret_backend_is_a_setup_error_that_changes_nothing(world: World) -> None:
    """Pointing a home at a backend that holds none of its tokens must not break every store."""
    before = world.cli.run("list", "--json").stdout
    secrets = next(world.cli.home.rglob("secrets.json"))
    secrets.rename(secrets.with_name("secrets.json.elsewhere"))
    for command in (["validate"], ["sync", "--quiet"]):
        result = world.cli.run(*command)
        assert result.returncode == 2, (command, result.stderr)
        assert "no refresh token for any of the 3 stores in the secret store (plaintext" in (
            result.stderr
        )
        assert "SOLDSCOPE_SECRETS=keyring|file" in result.stderr
        assert result.stderr.count("\n") == 1  # one line, no traceback
        assert result.stdout == ""
    assert world.cli.run("list", "--json").stdout == before


def test_a_future_authorized_at_does_not_hide_a_revoked_grant(world: World) -> None:
    """A clock that ran fast at connect time, or a hand edit, puts authorized_at a day ahead."""
    import re
    from datetime import UTC, datetime, timedelta

    config = world.cli.home / "config" / "config.toml"
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text, count = re.subn(
        r"(\[stores\.bolt-us\](?:(?!\n\[).)*?authorized_at = )\S+",
        rf'\g<1>"{tomorrow}"',
        config.read_text(),
        flags=re.DOTALL,
    )
    assert count == 1
    config.write_text(text)
    world.sim.revoke(SELLERS["bolt-us"])
    code, rows, stderr = world.validate("bolt-us")
    assert code == 1, (rows, stderr)
    [bolt] = rows
    assert (bolt["status"], bolt["error"]["code"]) == ("error", "invalid_grant")
    assert bolt["days_left"] <= 365  # the future does not extend Amazon's 365 days either
    listed = world.cli.run("list", "bolt-us", "--json")
    assert listed.returncode == 1
    assert json.loads(listed.stdout)[0]["status"] == "error"


def test_validate_into_a_closed_pipe_is_exit_141(world: World) -> None:
    """`soldscope validate | head -1` exited 1 ("unhealthy") in 9 runs of 10."""
    import os
    import subprocess

    outcomes = []
    for _ in range(10):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            process = subprocess.Popen(
                [str(SOLDSCOPE), "validate"],
                stdout=write_end,
                stderr=subprocess.PIPE,
                env=world.cli.env,
                text=True,
            )
        finally:
            os.close(write_end)
        _, stderr = process.communicate(timeout=60)
        outcomes.append((process.returncode, stderr))
    assert outcomes == [(141, "")] * 10


def test_validate_into_head_never_exits_1(world: World) -> None:
    """`soldscope validate | head -1`: 141 when output was lost, the real 0 when head read it all."""
    import subprocess

    outcomes = set()
    for _ in range(10):
        process = subprocess.Popen(
            [str(SOLDSCOPE), "validate"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=world.cli.env,
        )
        assert process.stdout is not None and process.stderr is not None
        with process.stdout, process.stderr:
            process.stdout.readline()
            process.stdout.close()
            stderr = process.stderr.read().decode()
        process.wait(timeout=60)
        outcomes.add((process.returncode, stderr))
    assert outcomes <= {(141, ""), (0, "")}
