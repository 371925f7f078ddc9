"""`soldscope list`: JSON shape, sorting, exit codes, plain output, colour policy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import NOW, Harness, make_harness

from soldscope_cli.db.database import CHECK_INCOMPLETE, CHECK_PROBLEM, CheckRecord

ANSI = re.compile(r"\x1b\[")
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|9[0-7]|4[0-9]|10[0-7])(?:;[0-9;]*)?m")


def seed(h: Harness) -> None:
    h.add_store("zeta-ok", authorized_at=NOW - timedelta(days=10), seller="AZETA")
    h.add_store(
        "alpha-soon",
        region="eu",
        marketplaces=["UK", "DE"],
        authorized_at=NOW - timedelta(days=350),
        seller="AALPHA",
    )
    h.add_store(
        "beta-expired",
        region="fe",
        marketplaces=["JP"],
        authorized_at=NOW - timedelta(days=400),
        seller="ABETA",
    )
    h.add_store("gamma-error", authorized_at=NOW - timedelta(days=100), seller="AGAMMA")
    db = h.ctx.database()
    db.record_check(
        CheckRecord(
            "gamma-error",
            NOW - timedelta(hours=2),
            "validate",
            CHECK_PROBLEM,
            "invalid_grant",
            "The grant was revoked",
            "req-9",
        )
    )
    db.record_check(
        CheckRecord(
            "zeta-ok",
            NOW - timedelta(hours=1),
            "validate",
            CHECK_INCOMPLETE,
            "transient",
            "503",
            None,
        )
    )


def test_json_shape_is_pinned(harness: Harness, invoke: Any) -> None:
    seed(harness)
    result = invoke(harness, "list", "--json")
    data = json.loads(harness.stdout)
    assert [d["name"] for d in data] == ["gamma-error", "beta-expired", "alpha-soon", "zeta-ok"]
    assert data[0] == {
        "name": "gamma-error",
        "region": "na",
        "marketplaces": ["US"],
        "selling_partner_id": "AGAMMA",
        "status": "error",
        "authorized_at": "2026-08-21T12:00:00Z",
        "expires_at": "2027-08-21T12:00:00Z",
        "days_left": 265,
        "last_checked_at": "2026-11-29T10:00:00Z",
        "last_sync_at": None,
        "error": {"code": "invalid_grant", "message": "The grant was revoked"},
    }
    assert data[2]["status"] == "expiring_soon" and data[2]["days_left"] == 15
    assert data[2]["marketplaces"] == ["UK", "DE"]
    assert data[1]["status"] == "expired" and data[1]["days_left"] == -35
    assert data[3]["status"] == "active" and data[3]["error"] is None
    assert data[3]["last_checked_at"] == "2026-11-29T11:00:00Z"
    assert result.exit_code == 1  # --json never changes the exit code


def test_piped_output_is_plain_stable_and_untruncated(harness: Harness, invoke: Any) -> None:
    seed(harness)
    harness.add_store("a-very-long-store-name-that-would-not-fit-in-a-narrow-column")
    invoke(harness, "list")
    out = harness.stdout
    assert not ANSI.search(out)
    lines = out.splitlines()
    assert lines[0].split() == [
        "Store",
        "Region",
        "Marketplaces",
        "Seller",
        "ID",
        "Status",
        "Expires",
        "Days",
        "left",
        "Last",
        "checked",
        "Last",
        "sync",
        "Problem",
    ]
    assert "a-very-long-store-name-that-would-not-fit-in-a-narrow-column" in out
    assert "invalid_grant: The grant was revoked" in out
    assert lines[1].startswith("gamma-error ")
    assert "Expiring Soon" in out
    assert lines[-1] == "5 stores: 2 active, 1 expiring soon, 1 expired, 1 error"


def test_terminal_output_has_coloured_badges(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path, tty=True, env={"TERM": "xterm-256color"})
    seed(h)
    invoke(h, "list")
    assert COLOUR.search(h.stdout)
    assert "Expiring Soon" in h.stdout


@pytest.mark.parametrize("env", [{"NO_COLOR": "1", "TERM": "xterm"}, {"TERM": "dumb"}])
def test_no_color_on_a_terminal(tmp_path: Path, invoke: Any, env: dict[str, str]) -> None:
    h = make_harness(tmp_path, tty=True, env=env)
    seed(h)
    invoke(h, "list")
    assert "Active" in h.stdout
    assert not COLOUR.search(h.stdout)


def test_no_color_flag_wins(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path, tty=True, env={"FORCE_COLOR": "1"})
    seed(h)
    invoke(h, "--no-color", "list")
    assert not COLOUR.search(h.stdout)


@pytest.mark.parametrize(
    ("args", "names", "code"),
    [
        (["--status", "active"], ["zeta-ok"], 0),
        (["--status", "expiring-soon"], ["alpha-soon"], 0),
        (["--status", "error", "--status", "expired"], ["gamma-error", "beta-expired"], 1),
        (["zeta-ok", "alpha-soon"], ["alpha-soon", "zeta-ok"], 0),
        (["beta-expired"], ["beta-expired"], 1),
    ],
)
def test_filters_and_exit_codes(
    harness: Harness, invoke: Any, args: list[str], names: list[str], code: int
) -> None:
    seed(harness)
    result = invoke(harness, "list", "--json", *args)
    assert [d["name"] for d in json.loads(harness.stdout)] == names
    assert result.exit_code == code


def test_unknown_name_is_a_usage_error(harness: Harness, invoke: Any) -> None:
    seed(harness)
    result = invoke(harness, "list", "nope")
    assert result.exit_code == 2
    assert "no store named 'nope'" in harness.stderr
    assert "soldscope list" in harness.stderr


def test_unknown_status_is_a_usage_error(harness: Harness, invoke: Any) -> None:
    result = invoke(harness, "list", "--status", "broken")
    assert result.exit_code == 2
    assert "unknown status 'broken'" in harness.stderr


def test_no_stores_hints_at_connect(harness: Harness, invoke: Any) -> None:
    result = invoke(harness, "list")
    assert result.exit_code == 0
    assert "soldscope connect" in harness.stderr
    assert harness.stdout == ""
    invoke(harness, "list", "--json")
    assert json.loads(harness.stdout) == []


def test_broken_config_exits_2_with_the_location(harness: Harness, invoke: Any) -> None:
    harness.ctx.paths.config_dir.mkdir(parents=True)
    harness.ctx.paths.config_file.write_text("[stores.a]\nregion = 'mars'\n")
    result = invoke(harness, "list")
    assert result.exit_code == 2
    assert "config.toml, line 2" in harness.stderr
    assert "Traceback" not in harness.stderr


def test_list_imports_neither_keyring_nor_httpx_nor_the_asgi_stack_nor_exporters_nor_apprise(
    tmp_path: Path,
) -> None:
    code = (
        "import sys\n"
        "from soldscope_cli.cli import main\n"
        "sys.argv = ['soldscope', 'list']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('keyring', 'httpx', 'secretstorage', 'starlette', 'uvicorn',"
        " 'prometheus_client', 'icalendar', 'apprise', 'psycopg', 'cryptography', 'tomlkit')\n"
        "bad = sorted(m for m in heavy if m in sys.modules)\n"
        "print('IMPORTED', bad)\n"
    )
    env = {
        "SOLDSCOPE_CONFIG_DIR": str(tmp_path / "c"),
        "SOLDSCOPE_DATA_DIR": str(tmp_path / "d"),
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "IMPORTED []" in out


def test_large_lists_on_a_terminal_stay_aligned_and_coloured(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path, tty=True, env={"TERM": "xterm-256color"})
    from soldscope_cli.fleet.config import ConfigFile, StoreRecord

    with ConfigFile(h.ctx.paths.config_file, h.ctx.paths.config_lock).edit() as cfg:
        for i in range(150):
            cfg.stores[f"s{i:03d}"] = StoreRecord(
                f"s{i:03d}", "na", ["US"], NOW - timedelta(days=3 * i), f"A{i}"
            )
    result = invoke(h, "list")
    assert result.exit_code == 1  # some are expired
    plain = re.sub(r"\x1b\[[0-9;]*m", "", h.stdout)
    lines = plain.splitlines()
    assert lines[0].startswith("Store ")
    assert len(lines) == 152  # header, 150 rows, summary
    assert COLOUR.search(h.stdout)
    status_col = lines[0].index("Status")
    assert all(
        line[status_col:].startswith(("Active", "Expired", "Expiring Soon"))
        for line in lines[1:151]
    )


def test_json_arrays_hold_one_store_per_line(harness: Harness, invoke: Any) -> None:
    seed(harness)
    invoke(harness, "list", "--json")
    lines = harness.stdout.splitlines()
    assert lines[0] == "[" and lines[-1] == "]"
    assert len(lines) == 2 + 4
    assert [json.loads(line.rstrip(","))["name"] for line in lines[1:-1]] == [
        "gamma-error",
        "beta-expired",
        "alpha-soon",
        "zeta-ok",
    ]


def test_a_corrupt_state_database_is_a_clean_exit_2(harness: Harness, invoke: Any) -> None:
    harness.add_store("acme")
    harness.ctx.paths.data_dir.mkdir(parents=True, exist_ok=True)
    harness.ctx.paths.database.write_bytes(b"this is not sqlite" * 100)
    result = invoke(harness, "list")
    assert result.exit_code == 2
    assert "cannot read the state database" in harness.stderr
    assert "soldscope doctor" in harness.stderr


def _store(name: str, **changes: Any) -> dict[str, Any]:
    base = {
        "name": name,
        "region": "na",
        "marketplaces": ["US"],
        "selling_partner_id": "A" + name.split("-")[0].upper(),
        "status": "active",
        "authorized_at": None,
        "expires_at": None,
        "days_left": None,
        "last_checked_at": None,
        "last_sync_at": None,
        "error": None,
    }
    return {**base, **changes}


PINNED = [
    _store(
        "gamma-error",
        status="error",
        authorized_at="2026-08-21T12:00:00Z",
        expires_at="2027-08-21T12:00:00Z",
        days_left=265,
        last_checked_at="2026-11-29T10:00:00Z",
        error={"code": "invalid_grant", "message": "The grant was revoked"},
    ),
    _store(
        "beta-expired",
        region="fe",
        marketplaces=["JP"],
        status="expired",
        authorized_at="2025-10-25T12:00:00Z",
        expires_at="2026-10-25T12:00:00Z",
        days_left=-35,
    ),
    _store(
        "alpha-soon",
        region="eu",
        marketplaces=["UK", "DE"],
        status="expiring_soon",
        authorized_at="2025-12-14T12:00:00Z",
        expires_at="2026-12-14T12:00:00Z",
        days_left=15,
    ),
    _store(
        "zeta-ok",
        authorized_at="2026-11-19T12:00:00Z",
        expires_at="2027-11-19T12:00:00Z",
        days_left=355,
        last_checked_at="2026-11-29T11:00:00Z",
    ),
]


def test_json_is_pinned_whole_and_format_json_is_the_same(harness: Harness, invoke: Any) -> None:
    seed(harness)
    invoke(harness, "list", "--json")
    assert json.loads(harness.stdout) == PINNED
    as_json = harness.stdout
    invoke(harness, "list", "--format", "json")
    assert harness.stdout == as_json


@pytest.mark.parametrize(
    ("sort", "names"),
    [
        ("status", ["gamma-error", "beta-expired", "alpha-soon", "zeta-ok"]),
        ("days-left", ["beta-expired", "alpha-soon", "gamma-error", "zeta-ok"]),
        ("name", ["alpha-soon", "beta-expired", "gamma-error", "zeta-ok"]),
        ("last-sync", ["beta-expired", "gamma-error", "zeta-ok", "alpha-soon"]),
    ],
)
def test_sort_orders(harness: Harness, invoke: Any, sort: str, names: list[str]) -> None:
    seed(harness)
    _sync(harness, "zeta-ok", hours_ago=5)
    _sync(harness, "alpha-soon", hours_ago=1)
    invoke(harness, "list", "--json", "--sort", sort)
    assert [d["name"] for d in json.loads(harness.stdout)] == names


def _sync(h: Harness, name: str, *, hours_ago: int) -> None:
    db = h.ctx.database()
    at = NOW - timedelta(hours=hours_ago)
    db.finish_sync_run(db.start_sync_run(name, "inventory", at), at, "ok")


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--region", "eu"], ["alpha-soon"]),
        (["--region", "EU", "--region", "fe"], ["beta-expired", "alpha-soon"]),
        (["--marketplace", "de"], ["alpha-soon"]),
        (["--marketplace", "JP", "--marketplace", "GB"], ["beta-expired", "alpha-soon"]),
        (["--expiring-within", "30"], ["beta-expired", "alpha-soon"]),
        (["--expiring-within", "300", "--region", "na"], ["gamma-error"]),
        (["--expiring-within", "30", "--sort", "name"], ["alpha-soon", "beta-expired"]),
    ],
)
def test_fleet_filters(harness: Harness, invoke: Any, args: list[str], names: list[str]) -> None:
    seed(harness)
    invoke(harness, "list", "--format", "json", *args)
    assert [d["name"] for d in json.loads(harness.stdout)] == names


def test_csv_has_a_header_and_one_quoted_row_per_store(harness: Harness, invoke: Any) -> None:
    import csv
    import io

    seed(harness)
    result = invoke(harness, "list", "--format", "csv")
    assert result.exit_code == 1
    assert harness.stdout.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(harness.stdout, newline="")))
    assert rows[0] == [
        "name",
        "region",
        "marketplaces",
        "selling_partner_id",
        "status",
        "authorized_at",
        "expires_at",
        "days_left",
        "last_checked_at",
        "last_sync_at",
        "error_code",
        "error_message",
    ]
    assert [r[0] for r in rows[1:]] == ["gamma-error", "beta-expired", "alpha-soon", "zeta-ok"]
    assert rows[1][10:] == ["invalid_grant", "The grant was revoked"]
    assert rows[3][2] == "UK,DE" and '"UK,DE"' in harness.stdout
    assert rows[2][9] == "" and rows[2][7] == "-35"


def test_plain_format_on_a_terminal_is_every_column_without_colour(
    tmp_path: Path, invoke: Any
) -> None:
    h = make_harness(tmp_path, tty=True, env={"TERM": "xterm-256color", "COLUMNS": "60"})
    seed(h)
    invoke(h, "list", "--format", "plain")
    assert not ANSI.search(h.stdout)
    assert "invalid_grant: The grant was revoked" in h.stdout
    assert "Hidden" not in h.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sort", "age"], "unknown sort 'age'"),
        (["--format", "xml"], "unknown format 'xml'"),
        (["--json", "--format", "csv"], "--json and --format csv disagree"),
        (["--format", "csv", "--wide"], "--wide shapes the table"),
        (["--region", "us"], "unknown region 'us'"),
        (["--marketplace", "XX"], "unknown marketplace 'XX'"),
        (["--columns", "store,colour"], "unknown column 'colour'"),
    ],
)
def test_bad_list_options_are_usage_errors(
    harness: Harness, invoke: Any, args: list[str], message: str
) -> None:
    seed(harness)
    result = invoke(harness, "list", *args)
    assert result.exit_code == 2
    assert message in harness.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["list", "zeta-okk"], "did you mean zeta-ok?"),
        (["list", "alpha-sooon", "gama-error"], "did you mean alpha-soon or gamma-error?"),
        (["validate", "bta-expired"], "did you mean beta-expired?"),
        (["delete", "zeta_ok", "--yes"], "did you mean zeta-ok?"),
    ],
)
def test_unknown_store_names_suggest_the_nearest(
    harness: Harness, invoke: Any, args: list[str], expected: str
) -> None:
    seed(harness)
    result = invoke(harness, *args)
    assert result.exit_code == 2
    assert expected in harness.stderr
    assert "run `soldscope list` to see the configured stores" in harness.stderr


def test_a_name_like_none_of_them_suggests_nothing(harness: Harness, invoke: Any) -> None:
    seed(harness)
    invoke(harness, "list", "qqqq")
    assert "did you mean" not in harness.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["list", "--sotr", "name"], "--sort"),  # Click alone found nothing sharing a prefix
        (["list", "--stauts", "error"], "--status"),
        (["sync", "--quite"], "--quiet"),
        (["--debg", "list"], "--debug"),
        (["app", "set", "--clientid", "x"], "--client-id"),
    ],
)
def test_unknown_options_suggest_the_nearest_option(
    harness: Harness, args: list[str], expected: str
) -> None:
    from typer.testing import CliRunner

    from soldscope_cli.cli import app

    result = CliRunner().invoke(app, args, obj=harness.ctx)
    assert result.exit_code == 2
    text = (result.stderr + harness.stderr).lower().replace("'", "")
    assert f"did you mean {expected}" in text
