"""`soldscope team rotate-key` and `team new-key`: wiring, output, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import make_harness

from soldscope_cli.db.database import MIGRATIONS, Database
from soldscope_cli.fleet.database_secrets import DatabaseSecretStore
from soldscope_cli.fleet.sealed import KEY_ENV, NEW_KEY_ENV, new_key_text, parse_key
from soldscope_cli.fleet.secrets import token_store

TOKEN = "Atzr|IwEBIteam-command-token-0001"


def seeded(tmp_path: Path, key: str) -> None:
    db = Database(tmp_path / "data" / "soldscope.db", MIGRATIONS)
    store = DatabaseSecretStore(
        lambda: db.secret_rows, lambda: parse_key(key, KEY_ENV), str(db.path), token_store
    )
    store.set("ns/refresh-token:acme-us", TOKEN)
    store.set("ns/lwa-client-secret", "amzn1.oa2-cs.v1.team-command-secret")
    db.close()


def test_rotate_key_prints_the_count_and_key_ids_only(tmp_path: Path, invoke: Any) -> None:
    old, new = new_key_text(), new_key_text()
    seeded(tmp_path, old)
    env = {"SOLDSCOPE_SECRETS": "database", KEY_ENV: old, NEW_KEY_ENV: new}
    h = make_harness(tmp_path, env=env)
    result = invoke(h, "team", "rotate-key", "--json")
    assert result.exit_code == 0, h.stderr
    assert json.loads(h.stdout) == {
        "reencrypted": 2,
        "old_key_id": parse_key(old, "x").key_id,
        "new_key_id": parse_key(new, "x").key_id,
    }
    h2 = make_harness(tmp_path, env={**env, KEY_ENV: new, NEW_KEY_ENV: old})
    result = invoke(h2, "team", "rotate-key")
    assert result.exit_code == 0, h2.stderr
    assert h2.stdout.startswith("re-encrypted 2 secrets under key ")
    assert "every host now needs the new key" in h2.stderr
    for text in (h.stdout, h.stderr, h2.stdout, h2.stderr):
        assert old not in text and new not in text and TOKEN not in text


def test_rotate_key_needs_the_database_backend(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path, env={"SOLDSCOPE_SECRETS": "file"})
    result = invoke(h, "team", "rotate-key")
    assert result.exit_code == 2
    assert "only the database backend has a key" in h.stderr
    assert not (tmp_path / "data").exists()


def test_rotate_key_with_the_wrong_current_key_changes_nothing(tmp_path: Path, invoke: Any) -> None:
    old = new_key_text()
    seeded(tmp_path, old)
    raw = (tmp_path / "data" / "soldscope.db").read_bytes()
    env = {"SOLDSCOPE_SECRETS": "database", KEY_ENV: new_key_text(), NEW_KEY_ENV: new_key_text()}
    h = make_harness(tmp_path, env=env)
    result = invoke(h, "team", "rotate-key")
    assert result.exit_code == 2
    assert "is not the key of the secrets in the database" in h.stderr
    assert len(h.stderr.strip().splitlines()) == 1
    h.ctx.close()
    assert (tmp_path / "data" / "soldscope.db").read_bytes() == raw


def test_new_key_prints_one_fresh_key(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path)
    assert invoke(h, "team", "new-key").exit_code == 0
    first = h.stdout.strip()
    assert parse_key(first, "x").material
    assert invoke(h, "team", "new-key").exit_code == 0
    assert h.stdout.strip() != first
    assert h.stderr == ""
