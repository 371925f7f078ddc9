"""`soldscope demo` end to end: every status, a sync, and nothing of the user's touched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.e2e.conftest import Cli

from soldscope_cli.datasets import registry

pytestmark = pytest.mark.e2e


def test_demo_shows_every_status_and_a_sync_without_touching_the_user(cli: Cli) -> None:
    user_config = cli.home / "config"
    user_config.mkdir(parents=True)
    (user_config / "config.toml").write_text(
        '[stores.real]\nregion = "na"\nmarketplaces = ["US"]\nauthorized_at = 2026-11-01T00:00:00Z\n'
    )
    before = sorted(p.name for p in cli.home.rglob("*"))
    result = cli.run(
        "demo",
        env={
            "SOLDSCOPE_SECRETS": "keyring",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        },
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for badge in ("Active", "Expiring Soon", "Expired", "Error"):
        assert badge in out
    assert "7 stores: 4 active, 1 expiring soon, 1 expired, 1 error" in out
    assert "invalid_grant" in out
    assert re.search(r"7 stores: 5 ok, 2 skipped; [\d,]+ rows added", out)
    assert "brand-analytics not authorized" in out
    # The demo syncs and shows every dataset.
    summary = out.split("acme-na: ok", 1)[1].split("\n", 1)[0]
    assert all(re.search(rf"{name} \+[\d,]+", summary) for name in registry.NAMES), summary
    # A seventh store connected through an invitation link that serve answered.
    assert "serve: gale-us: connected through its invitation" in result.stderr
    # The client secret rotated through the Application Management API and a local SQS queue.
    assert "proven with acme-na's refresh and stored" in result.stderr
    assert re.search(r"gale-us .* A7DEMONA0GALE7  Active", out)
    # The renewal campaign: one link per store that needs a new consent, and only those.
    campaign = out.split("Renewal campaign (soldscope invite --renew):")[1].split("\n\n")[0]
    links = re.findall(r"^  (\S+) +(http://127\.0\.0\.1:\d+/invite/[\w-]{43})$", campaign, re.M)
    assert [name for name, _ in links] == ["dune-eu", "ember-jp", "fern-au"], campaign
    table = out.split("Connections (soldscope list):")[1]
    assert "real" not in table
    # The table is shown after the sync: the healthy stores have a last sync time.
    assert re.search(r"acme-na .* \d{4}-\d\d-\d\d \d\d:\d\dZ  \d{4}-\d\d-\d\d \d\d:\d\dZ", table)
    # The user's own home is exactly as it was, and the throwaway home is gone.
    assert sorted(p.name for p in cli.home.rglob("*")) == before
    home = re.search(r"The demo's throwaway home was removed", out)
    assert home is not None
    assert "Traceback" not in result.stderr


def test_demo_keep_leaves_a_home_that_soldscope_can_use(cli: Cli, tmp_path: Path) -> None:
    result = cli.run("demo", "--keep", timeout=240)
    assert result.returncode == 0, result.stderr
    match = re.search(r"The demo home is kept at (\S+)\. To explore it:", result.stdout)
    assert match, result.stdout
    home = Path(match.group(1))
    try:
        assert (home / "config" / "config.toml").exists()
        scenario = home / "scenario.json"
        assert scenario.stat().st_mode & 0o077 == 0
        listed = cli.run(
            "list",
            "--json",
            env={
                "SOLDSCOPE_CONFIG_DIR": str(home / "config"),
                "SOLDSCOPE_DATA_DIR": str(home / "data"),
            },
        )
        statuses = {d["name"]: d["status"] for d in json.loads(listed.stdout)}
        assert statuses == {
            "acme-na": "active",
            "bolt-us": "active",
            "crab-eu": "active",
            "dune-eu": "expiring_soon",
            "ember-jp": "expired",
            "fern-au": "error",
            "gale-us": "active",
        }
        assert any(d["last_sync_at"] for d in json.loads(listed.stdout))
        assert f"--scenario {scenario}" in result.stdout
        # Every command the demo suggests for exploring its home works as printed.
        env = {
            "SOLDSCOPE_CONFIG_DIR": str(home / "config"),
            "SOLDSCOPE_DATA_DIR": str(home / "data"),
            "SOLDSCOPE_SECRETS": "file",
        }
        suggested = [
            line.strip().split()[1:]
            for line in result.stdout.split("To explore it:")[1].splitlines()
            if line.strip().startswith("soldscope ") and "simulator serve" not in line
        ]
        assert len(suggested) >= 4, result.stdout
        for args in suggested:
            if "-o" in args:
                args[args.index("-o") + 1] = str(tmp_path / args[args.index("-o") + 1])
            ran = cli.run(*args, env=env)
            # list and log exit 1 for the demo's broken stores; nothing may be a usage error
            assert ran.returncode in (0, 1), (args, ran.stderr)
            assert "error:" not in ran.stderr, (args, ran.stderr)
        assert (tmp_path / "search-terms.csv").read_text().startswith("store,")
        invites = cli.run("invites", "--all", "--json", env=env)
        assert {(d["name"], d["kind"], d["status"]) for d in json.loads(invites.stdout)} == {
            ("gale-us", "new", "used"),
            ("dune-eu", "renewal", "pending"),
            ("ember-jp", "renewal", "pending"),
            ("fern-au", "renewal", "pending"),
        }
    finally:
        import shutil

        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
def test_demo_tables_fit_a_terminal(cli: Cli) -> None:
    # 80 columns, the narrowest terminal the tables promise to fit; wider ones have more room.
    from tests.terminal import run_on_pty

    columns = 80

    run = run_on_pty(["demo"], cli.env, columns=columns, timeout=240)
    assert run.returncode == 0, run.text
    sync_part, list_part = run.text.split("Connections (soldscope list):")
    for part in (sync_part.split("Sync:")[1], list_part):
        table = [line for line in part.splitlines() if line[:1] in "┏┃┡│└"]
        assert table, part
        assert all(len(line) <= columns for line in table), part
        rows = [line.split("│")[1].strip() for line in table if line.startswith("│")]
        # One line per store: no value wrapped onto a second line.
        assert sorted(rows) == [
            "acme-na",
            "bolt-us",
            "crab-eu",
            "dune-eu",
            "ember-jp",
            "fern-au",
            "gale-us",
        ]
    assert "not authorized" in sync_part and "365" in list_part
