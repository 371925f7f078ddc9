"""Shell completion offers the configured store names wherever a NAME is taken."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import NOW

from soldscope_cli.datasets import registry
from soldscope_cli.fleet.config import ConfigFile, StoreRecord


def seed(config_dir: Path) -> None:
    with ConfigFile(config_dir / "config.toml", config_dir / ".lock").edit() as config:
        for name in ("acme-us", "acme-eu", "bolt"):
            config.stores[name] = StoreRecord(name, "na", ["US"], NOW)


def complete(tmp_path: Path, words: str, **extra: str) -> list[str]:
    """What the installed command's bash completion answers (Typer's protocol)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOLDSCOPE_")},
        **extra,
        "SOLDSCOPE_CONFIG_DIR": str(tmp_path / "c"),
        "SOLDSCOPE_DATA_DIR": str(tmp_path / "d"),
        "_SOLDSCOPE_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    out = subprocess.run(
        [str(Path(sys.executable).parent / "soldscope")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return out.split()


def test_store_names_complete_for_list_validate_delete_and_sync(tmp_path: Path) -> None:
    seed(tmp_path / "c")
    assert complete(tmp_path, "soldscope delete ac") == ["acme-eu", "acme-us"]
    assert complete(tmp_path, "soldscope list b") == ["bolt"]
    assert complete(tmp_path, "soldscope validate ") == ["acme-eu", "acme-us", "bolt"]
    assert complete(tmp_path, "soldscope sync acme-u") == ["acme-us"]


def test_option_values_complete_instead_of_file_names(tmp_path: Path) -> None:
    seed(tmp_path / "c")
    assert complete(tmp_path, "soldscope list --status ex") == ["expired", "expiring_soon"]
    assert complete(tmp_path, "soldscope list --status ") == [
        "error",
        "expired",
        "expiring_soon",
        "active",
    ]
    assert complete(tmp_path, "soldscope sync --dataset ") == list(registry.NAMES)
    assert complete(tmp_path, "soldscope sync -d b") == ["brand-analytics"]
    assert complete(tmp_path, "soldscope list --region e") == ["eu"]
    assert complete(tmp_path, "soldscope connect acme-us --region ") == ["na", "eu", "fe"]
    assert complete(tmp_path, "soldscope list --marketplace D") == ["DE"]
    assert complete(tmp_path, "soldscope connect x --marketplace U") == ["US", "UK"]
    assert complete(tmp_path, "soldscope list --format ") == ["table", "plain", "json", "csv"]
    assert complete(tmp_path, "soldscope list --sort l") == ["last-sync"]
    # Store names still complete after an option with a value.
    assert complete(tmp_path, "soldscope list --status active acme-") == ["acme-eu", "acme-us"]


def test_in_team_mode_store_names_come_from_the_team_database(tmp_path: Path, pg_url: str) -> None:
    from soldscope_cli.db.postgres.engine import Database
    from soldscope_cli.fleet.team import to_registry

    seed(tmp_path / "c")  # config.toml's own stores are not the fleet in team mode
    db = Database(pg_url)
    db.registry.save(to_registry(StoreRecord("team-us", "na", ["US"], NOW)), NOW)
    db.close()
    assert complete(tmp_path, "soldscope validate ", SOLDSCOPE_DATABASE_URL=pg_url) == ["team-us"]
    # An unreachable team database offers nothing, at once, rather than breaking the shell.
    dead = "postgresql://nobody@127.0.0.1:1/none"
    assert complete(tmp_path, "soldscope validate ", SOLDSCOPE_DATABASE_URL=dead) == []
