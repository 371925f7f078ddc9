"""`soldscope doctor`, installed: a broken keyring, a fresh machine, and a simulator setup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import Cli
from tests.prerequisites import require_soldscope

from soldscope_cli.simulator import Simulator

pytestmark = pytest.mark.e2e

FAIL_KEYRING = "keyring.backends.fail.Keyring"


@pytest.fixture
def bare(tmp_path: Path) -> Cli:
    """The installed command with no SOLDSCOPE_SECRETS: the OS keyring is the backend."""
    require_soldscope()
    return Cli(tmp_path)


def statuses(stdout: str) -> dict[str, str]:
    data: list[dict[str, Any]] = json.loads(stdout)
    return {item["id"]: item["status"] for item in data}


def test_unusable_keyring_fails_and_says_why(bare: Cli) -> None:
    env = {"PYTHON_KEYRING_BACKEND": FAIL_KEYRING}
    text = bare.run("doctor", "--offline", env=env, timeout=30)
    assert text.returncode == 1, text.stderr
    [line] = [ln for ln in text.stdout.splitlines() if "Secret store:" in ln]
    assert line.startswith("✗ Secret store: keyring (default): no usable OS keyring was found")
    assert f"PYTHON_KEYRING_BACKEND={FAIL_KEYRING}" in line
    assert "SOLDSCOPE_SECRETS=file" in text.stdout  # the fix line offers the file backend
    as_json = bare.run("doctor", "--offline", "--json", env=env, timeout=30)
    assert as_json.returncode == 1
    assert statuses(as_json.stdout)["secret-store"] == "fail"


def test_fresh_machine_reports_and_changes_nothing(cli: Cli) -> None:
    result = cli.run("doctor", "--offline", "--json", timeout=30)
    assert result.returncode == 1, result.stderr
    found = statuses(result.stdout)
    assert found["config"] == "ok"
    assert found["secret-store"] == "warn"  # SOLDSCOPE_SECRETS=file works, but is plaintext
    assert found["app"] == "fail"
    assert found["network"] == "skip"
    assert found["database"] == "ok" and found["stores"] == "ok"
    assert [k for k, v in found.items() if v == "fail"] == ["app"]
    assert not (cli.home / "config").exists()
    assert not (cli.home / "data" / "secrets.json").exists()


def test_simulator_setup_passes_online(cli: Cli) -> None:
    with Simulator() as sim:
        app = sim.scenario.app
        env = {
            **sim.env(),
            "SOLDSCOPE_APP_ID": app.application_id,
            "SOLDSCOPE_LWA_CLIENT_ID": app.client_id,
            "SOLDSCOPE_LWA_CLIENT_SECRET": app.client_secret,
            "SOLDSCOPE_REDIRECT_URI": "https://agency.example/soldscope/",
        }
        result = cli.run("doctor", env=env, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    port = sim.url.rsplit(":", 1)[1]
    assert any(
        ln.startswith(f"✓ Reach Login with Amazon (http://127.0.0.1:{port}): plain http, HTTP")
        for ln in lines
    ), result.stdout
    assert any(ln.startswith("✓ Clock: ") for ln in lines)
    assert app.client_secret not in result.stdout + result.stderr


class _DateServer:
    """A local server answering everything with the given Date header values (and nothing else)."""

    def __init__(self, dates: list[str]) -> None:
        import http.server
        import threading

        values = dates

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.send_response_only(200)
                for value in values:
                    self.send_header("Date", value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _DateServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    "dates",
    [
        ["Mon, 30 Nov 2026 10:00:00 -0000"],  # RFC 5322 "unknown zone": email.utils goes naive
        ["Mon, 30 Nov 2026 10:00:00"],  # no zone at all
        ["Mon, 30 Nov 2026 10:00:00 GMT", "Mon, 30 Nov 2026 10:00:00 GMT"],  # repeated by a proxy
        ["Fri, 31 Dec 9999 23:59:59 GMT"],  # the last second datetime can hold
        ["Mon, 01 Jan 0001 00:00:00 +1400"],
        ["yesterday"],
    ],
    ids=["minus-0000", "no-zone", "repeated", "year-9999", "year-1", "garbage"],
)
def test_odd_date_headers_never_crash_doctor(cli: Cli, dates: list[str]) -> None:
    with _DateServer(dates) as server:
        env = {
            "SOLDSCOPE_LWA_URL": server.url + "/auth/o2/token",
            "SOLDSCOPE_SPAPI_URL": server.url,
            "SOLDSCOPE_SELLER_CENTRAL_URL": server.url,
        }
        result = cli.run("doctor", "--json", env=env, timeout=30)
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    checks = {item["id"]: item for item in json.loads(result.stdout)}
    assert "clock-skew" in checks
    assert result.returncode in (0, 1)


def test_a_stored_secret_without_a_date_is_never_called_missing(cli: Cli) -> None:
    done = cli.run(
        "app", "set", "--app-id", "amzn1.sp.solution.6f1c0a2e-0000-4000-8000-0000000000dd", "--client-id",
        "amzn1.application-oa2-client.doctor", "--client-secret-stdin",
        input="amzn1.oa2-cs.v1.doctor-e2e-secret",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = cli.home / "config" / "config.toml"
    # A secret stored before soldscope recorded dates, or a date removed by hand.
    config.write_text(
        "\n".join(ln for ln in config.read_text().splitlines() if "client_secret_set_at" not in ln)
    )
    report = {r["id"]: r for r in json.loads(cli.run("doctor", "--offline", "--json").stdout)}
    assert report["app"]["status"] == "ok", report["app"]
    rotation = report["secret-rotation"]
    assert rotation["status"] == "warn", rotation
    assert "the date the secret was set is not recorded" in rotation["detail"]
