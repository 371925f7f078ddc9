"""`soldscope list` on a real pseudo-terminal 80 and 120 columns wide: no value is ever split."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.conftest import make_harness
from tests.terminal import run_on_pty

from soldscope_cli.db.database import CHECK_PROBLEM, CheckRecord
from soldscope_cli.fleet.config import ConfigFile, StoreRecord

pytestmark = pytest.mark.usefixtures("soldscope_command")

NOW = datetime.now(UTC).replace(microsecond=0)
# name, region, marketplaces, days since authorized (365 left, 15 left, 15 over...)
FLEET = [
    ("acme-na", "na", ["US", "CA"], 0),
    ("bolt-us", "na", ["US"], 120),
    ("crab-eu", "eu", ["UK", "DE", "FR", "IT", "ES"], 40),
    ("dune-eu", "eu", ["DE", "NL"], 350),
    ("ember-jp", "fe", ["JP"], 380),
    ("fern-au", "fe", ["AU"], 200),
]


def seed(tmp_path: Path) -> dict[str, str]:
    """Six stores like the demo's (one in error, one expired, one expiring) and the env to list them."""
    h = make_harness(tmp_path, now=NOW)
    with ConfigFile(h.ctx.paths.config_file, h.ctx.paths.config_lock).edit() as cfg:
        for i, (name, region, markets, age) in enumerate(FLEET):
            seller = f"A{i}DEMO{region.upper()}0{name[:4].upper()}{i}"
            cfg.stores[name] = StoreRecord(
                name, region, markets, NOW - timedelta(days=age, minutes=1), seller
            )
    db = h.ctx.database()
    db.record_check(
        CheckRecord(
            "fern-au",
            NOW - timedelta(hours=1),
            "validate",
            CHECK_PROBLEM,
            "invalid_grant",
            "Login with Amazon refused the refresh token: the seller revoked the authorization",
            "req-1",
        )
    )
    db.close()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SOLDSCOPE_", "NO_COLOR"))}
    return {
        **base,
        "SOLDSCOPE_CONFIG_DIR": str(h.ctx.paths.config_dir),
        "SOLDSCOPE_DATA_DIR": str(h.ctx.paths.data_dir),
        "SOLDSCOPE_SECRETS": "file",
    }


def table_rows(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("│")]


@pytest.mark.parametrize("columns", [80, 120])
def test_every_value_stays_whole_on_one_line(tmp_path: Path, columns: int) -> None:
    run = run_on_pty(["list"], seed(tmp_path), columns=columns)
    assert run.returncode == 1, run.text  # one store in error, one expired
    lines = run.lines
    assert all(len(line) <= columns for line in lines), run.text
    rows = table_rows(lines)
    assert [row.split("│")[1].strip() for row in rows] == [
        "fern-au",
        "ember-jp",
        "dune-eu",
        "acme-na",
        "bolt-us",
        "crab-eu",
    ]
    cells = {row.split("│")[1].strip(): [c.strip() for c in row.split("│")[1:-1]] for row in rows}
    assert "365" in cells["acme-na"] and "-15" in cells["ember-jp"] and "15" in cells["dune-eu"]
    assert "UK,DE,FR,IT,ES" in cells["crab-eu"]
    assert (NOW + timedelta(days=365)).strftime("%Y-%m-%d") in cells["acme-na"]
    # Header, rule, six rows, bottom border; summary, the problem's detail, the hidden columns.
    assert len(lines) <= 15, run.text
    assert "6 stores: 3 active, 1 expiring soon, 1 expired, 1 error" in lines
    assert any(
        line.startswith("fern-au: invalid_grant: Login with Amazon refused") for line in lines
    )
    hint = " ".join(lines[lines.index("6 stores: 3 active, 1 expiring soon, 1 expired, 1 error") :])
    assert "Hidden to fit" in hint and "Seller ID" in hint and "soldscope list --wide" in hint


def test_120_columns_show_the_problem_code_and_the_last_sync(tmp_path: Path) -> None:
    run = run_on_pty(["list"], seed(tmp_path), columns=120)
    header = run.lines[1]
    assert [h.strip() for h in header.split("┃")[1:-1]] == [
        "Store",
        "Region",
        "Marketplaces",
        "Status",
        "Expires",
        "Days left",
        "Last sync",
        "Problem",
    ]
    assert "invalid_grant" in next(r for r in table_rows(run.lines) if "fern-au" in r)
    assert "Hidden to fit 120 columns: Seller ID, Last checked;" in run.text


def test_80_columns_keep_the_essentials(tmp_path: Path) -> None:
    run = run_on_pty(["list"], seed(tmp_path), columns=80)
    header = [h.strip() for h in run.lines[1].split("┃")[1:-1]]
    assert header[:1] == ["Store"] and {"Status", "Days left", "Marketplaces"} <= set(header)
    assert "Seller ID" not in header


@pytest.mark.parametrize("columns", [80, 120])
def test_wide_that_cannot_fit_is_one_record_per_store(tmp_path: Path, columns: int) -> None:
    env = seed(tmp_path)
    wide = run_on_pty(["list", "--wide"], env, columns=columns)
    assert wide.returncode == 1, wide.text
    lines = wide.lines
    # Nothing wraps: every line fits the terminal, every value whole on its line.
    assert all(len(line) <= columns for line in lines), wide.text
    assert "Hidden" not in wide.text
    records = [line for line in lines if line and not line.startswith(" ")]
    assert records[:6] == ["fern-au", "ember-jp", "dune-eu", "acme-na", "bolt-us", "crab-eu"]
    fern = lines[lines.index("fern-au") + 1 : lines.index("ember-jp")]
    fields = {line[2:16].strip(): line[16:].strip() for line in fern if line[2:3] != " "}
    assert fields["Seller ID"] == "A5DEMOFE0FERN5"
    assert fields["Status"] == "Error"
    assert fields["Days left"] == "165"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}Z", fields["Last checked"])
    assert fields["Problem"].startswith("invalid_grant: Login with Amazon refused")
    # A long value continues under the values, not under the labels.
    assert all(line[16] != " " for line in fern if line.startswith("   "))
    assert "6 stores: 3 active, 1 expiring soon, 1 expired, 1 error" in lines


def test_wide_that_fits_stays_a_table(tmp_path: Path) -> None:
    env = seed(tmp_path)
    wide = run_on_pty(["list", "--wide"], env, columns=250)
    header = [h.strip() for h in wide.lines[1].split("┃")[1:-1]]
    assert header == [
        "Store",
        "Region",
        "Marketplaces",
        "Seller ID",
        "Status",
        "Expires",
        "Days left",
        "Last checked",
        "Last sync",
        "Problem",
    ]
    picked = run_on_pty(["list", "--columns", "store,seller-id,days-left"], env, columns=80)
    assert [h.strip() for h in picked.lines[1].split("┃")[1:-1]] == [
        "Store",
        "Seller ID",
        "Days left",
    ]
    assert "Hidden" not in picked.text


def test_more_than_a_hundred_stores_fit_too(tmp_path: Path) -> None:
    env = seed(tmp_path)
    with ConfigFile(tmp_path / "config" / "config.toml", tmp_path / "config" / ".lock").edit() as c:
        for i in range(120):
            c.stores[f"bulk-{i:03d}"] = StoreRecord(
                f"bulk-{i:03d}", "eu", ["UK", "DE", "FR"], NOW - timedelta(days=i * 3), f"A{i:013d}"
            )
    run = run_on_pty(["list"], env, columns=80)
    lines = run.lines
    assert all(len(line) <= 80 for line in lines)
    assert len([line for line in lines if re.match(r"bulk-\d{3} ", line)]) == 120
    assert "Hidden to fit 80 columns" in run.text
