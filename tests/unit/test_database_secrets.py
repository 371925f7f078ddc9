"""The database secret backend: sealed rows, the key and its check, AAD binding, rotation."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from soldscope_cli.db.database import MIGRATIONS, Database
from soldscope_cli.db.model import SealedSecret
from soldscope_cli.errors import SecretStoreError, UsageError
from soldscope_cli.fleet.database_secrets import (
    DatabaseSecretStore,
    rotate_configured_key,
    rotate_key,
)
from soldscope_cli.fleet.sealed import (
    KEY_CHECK_NAME,
    KEY_ENV,
    NEW_KEY_ENV,
    load_key,
    new_key_text,
    parse_key,
)
from soldscope_cli.fleet.secrets import open_backend, token_store
from soldscope_cli.redact import redact

TOKEN = "Atzr|IwEBIsealed-token-value-0001"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "soldscope.db", MIGRATIONS)


def store_for(db: Database, key_text: str) -> DatabaseSecretStore:
    return DatabaseSecretStore(
        lambda: db.secret_rows, lambda: parse_key(key_text, KEY_ENV), str(db.path), token_store
    )


def rows(db: Database) -> list[tuple[str, bytes, bytes, int | None]]:
    conn = sqlite3.connect(db.path)
    try:
        return list(conn.execute("SELECT name, nonce, ciphertext, store_id FROM secrets"))
    finally:
        conn.close()


def test_round_trip_seals_each_value_under_a_fresh_nonce(db: Database) -> None:
    store = store_for(db, new_key_text())
    store.set("ns/refresh-token:acme-us", TOKEN)
    store.set("ns/lwa-client-secret", "amzn1.oa2-cs.v1.secret-value")
    store.set("ns/lwa-client-secret", "amzn1.oa2-cs.v1.secret-value")
    assert store.get("ns/refresh-token:acme-us") == TOKEN
    assert store.get("ns/lwa-client-secret") == "amzn1.oa2-cs.v1.secret-value"
    assert store.get("ns/refresh-token:missing") is None
    found = rows(db)
    assert {r[0] for r in found} == {
        KEY_CHECK_NAME,
        "ns/refresh-token:acme-us",
        "ns/lwa-client-secret",
    }
    assert all(len(r[1]) == 12 for r in found)
    assert len({r[1] for r in found}) == len(found)
    assert db.path.read_bytes().find(TOKEN.encode()) == -1
    store.delete("ns/refresh-token:acme-us")
    store.delete("ns/refresh-token:acme-us")
    assert store.get("ns/refresh-token:acme-us") is None


def test_a_refresh_token_is_bound_to_its_connection_from_the_first_write(db: Database) -> None:
    store = store_for(db, new_key_text())
    store.set("ns/refresh-token:acme-us", TOKEN)  # before connect records the connection
    sealed_for = {r[0]: r[3] for r in rows(db)}["ns/refresh-token:acme-us"]
    assert sealed_for is not None
    # connect's own write adopts the connection the token was sealed for.
    assert (
        db.connect_store("acme-us", NOW, event="connected", selling_partner_id="A1", region="na")
        == sealed_for
    )
    assert store.get("ns/refresh-token:acme-us") == TOKEN
    assert {r[0]: r[3] for r in rows(db)}[KEY_CHECK_NAME] is None


def test_a_token_sealed_for_a_deleted_connection_is_refused(db: Database) -> None:
    store = store_for(db, new_key_text())
    store.set("ns/refresh-token:acme-us", TOKEN)
    old = db.secret_rows.get("ns/refresh-token:acme-us")
    assert old is not None
    db.delete_store("acme-us", NOW)
    store.set("ns/refresh-token:acme-us", "Atzr|IwEBInew-connection-token")
    # A backup's row of the old connection, put back under the same name, does not pass.
    check = db.secret_rows.get(KEY_CHECK_NAME)
    assert check is not None
    assert db.secret_rows.put(old, check=check)
    with pytest.raises(SecretStoreError, match="sealed for connection"):
        store.get("ns/refresh-token:acme-us")


def swap(db: Database, target: str, source: str, *, keep_store_id: bool = True) -> None:
    conn = sqlite3.connect(db.path)
    with conn:
        nonce, ciphertext, store_id = conn.execute(
            "SELECT nonce, ciphertext, store_id FROM secrets WHERE name = ?", (source,)
        ).fetchone()
        conn.execute(
            "UPDATE secrets SET nonce = ?, ciphertext = ? WHERE name = ?",
            (nonce, ciphertext, target),
        )
        if keep_store_id:
            conn.execute("UPDATE secrets SET store_id = ? WHERE name = ?", (store_id, target))
    conn.close()


def test_a_ciphertext_copied_into_another_row_does_not_open(db: Database) -> None:
    key = new_key_text()
    store = store_for(db, key)
    store.set("ns/refresh-token:acme-us", TOKEN)
    store.set("ns/refresh-token:bolt-us", "Atzr|IwEBIbolt-token-value")
    store.set("ns/lwa-client-secret", "amzn1.oa2-cs.v1.secret-value")
    swap(db, "ns/refresh-token:bolt-us", "ns/refresh-token:acme-us")
    swap(db, "ns/lwa-client-secret", "ns/refresh-token:acme-us", keep_store_id=False)
    fresh = store_for(db, key)
    for key in ("ns/refresh-token:bolt-us", "ns/lwa-client-secret"):
        with pytest.raises(SecretStoreError) as info:
            fresh.get(key)
        assert "changed or copied" in info.value.message
        assert TOKEN not in f"{info.value.message} {info.value.hint}"
    assert fresh.get("ns/refresh-token:acme-us") == TOKEN


def test_tampered_ciphertext_does_not_open(db: Database) -> None:
    key = new_key_text()
    store_for(db, key).set("ns/lwa-client-secret", "amzn1.oa2-cs.v1.secret-value")
    conn = sqlite3.connect(db.path)
    with conn:
        (ciphertext,) = conn.execute(
            "SELECT ciphertext FROM secrets WHERE name = 'ns/lwa-client-secret'"
        ).fetchone()
        flipped = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
        conn.execute(
            "UPDATE secrets SET ciphertext = ? WHERE name = 'ns/lwa-client-secret'", (flipped,)
        )
    conn.close()
    with pytest.raises(SecretStoreError, match="changed or copied"):
        store_for(db, key).get("ns/lwa-client-secret")


def test_the_wrong_key_is_refused_before_anything_is_written(db: Database) -> None:
    store_for(db, new_key_text()).set("ns/refresh-token:acme-us", TOKEN)
    before = rows(db)
    other = store_for(db, new_key_text())
    for attempt in (
        lambda: other.get("ns/refresh-token:acme-us"),
        lambda: other.set("ns/refresh-token:bolt-us", "Atzr|IwEBIother"),
        lambda: other.delete("ns/refresh-token:acme-us"),
    ):
        with pytest.raises(SecretStoreError) as info:
            attempt()
        assert "is not the key of the secrets in the database" in info.value.message
        assert "nothing was read or written" in info.value.message
        assert info.value.exit_code == 2
    assert rows(db) == before


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "neither SOLDSCOPE_SECRETS_KEY nor [secrets] key_command is set"),
        ({KEY_ENV: "   "}, "neither SOLDSCOPE_SECRETS_KEY"),
        ({KEY_ENV: "not-a-key-at-all"}, "is not a key"),
        ({KEY_ENV: "A" * 40}, "is not a key"),  # 30 bytes
        ({KEY_ENV: "A" * 44 + "="}, "is not a key"),  # 33 bytes
    ],
)
def test_no_key_or_a_malformed_key_is_a_setup_error_and_nothing_is_written(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    db = Database(tmp_path / "d" / "soldscope.db", MIGRATIONS)
    store = open_backend(
        {"SOLDSCOPE_SECRETS": "database", **env},
        None,
        tmp_path / "secrets.json",
        rows=lambda: db.secret_rows,
        database_path=db.path,
    )
    with pytest.raises(SecretStoreError) as info:
        store.set("ns/refresh-token:acme-us", TOKEN)
    assert expected in info.value.message
    assert info.value.exit_code == 2
    assert "set SOLDSCOPE_SECRETS_KEY" in (info.value.hint or "")
    assert not (tmp_path / "d").exists()


def test_a_key_without_padding_and_with_a_newline_is_accepted() -> None:
    text = new_key_text()
    assert parse_key(text.rstrip("=") + "\n", "x").material == parse_key(text, "x").material


def test_key_material_is_registered_for_redaction() -> None:
    text = new_key_text()
    key = load_key({KEY_ENV: text}, None)
    assert text not in redact(f"debug: key={text}")
    assert text not in repr(key) and text not in str(key)


def helper(tmp_path: Path, name: str, body: str) -> str:
    script = tmp_path / name
    script.write_text(f"import sys\n{body}\n")
    return f"{sys.executable} {script}"


def test_key_command_prints_the_key_and_its_stderr_is_not_shown(tmp_path: Path) -> None:
    text = new_key_text()
    good = helper(tmp_path, "good.py", f"print({text!r})")
    assert load_key({}, good).material == parse_key(text, "x").material
    assert load_key({}, good).source == "[secrets] key_command"
    bad = helper(tmp_path, "bad.py", f"sys.stderr.write({text!r}); sys.exit(3)")
    with pytest.raises(SecretStoreError) as info:
        load_key({}, bad)
    assert "exited with status 3" in info.value.message
    assert text not in info.value.message
    with pytest.raises(SecretStoreError, match="not found on PATH"):
        load_key({}, "soldscope-no-such-key-program show")
    # The environment's key wins over the command.
    assert load_key({KEY_ENV: text}, "soldscope-no-such-key-program").source == KEY_ENV


def test_key_command_timeout_is_an_error(tmp_path: Path) -> None:
    from soldscope_cli.fleet.sealed import run_key_command

    slow = helper(tmp_path, "slow.py", "import time; time.sleep(5)")
    with pytest.raises(SecretStoreError, match=r"did not finish within 0\.2 s"):
        run_key_command(slow, "[secrets] key_command", timeout=0.2)


def test_first_writers_with_different_keys_cannot_both_win(db: Database) -> None:
    first, second = store_for(db, new_key_text()), store_for(db, new_key_text())
    first.sealer()
    second.sealer()  # both saw an empty table: each holds a key check of its own to insert
    first.set("ns/lwa-client-secret", "amzn1.oa2-cs.v1.first-secret")
    with pytest.raises(SecretStoreError, match="not the key of the secrets"):
        second.set("ns/lwa-client-secret", "amzn1.oa2-cs.v1.second-secret")
    assert first.get("ns/lwa-client-secret") == "amzn1.oa2-cs.v1.first-secret"


def test_rotation_reseals_everything_and_the_old_key_stops_working(db: Database) -> None:
    old, new = new_key_text(), new_key_text()
    store = store_for(db, old)
    store.set("ns/refresh-token:acme-us", TOKEN)
    store.set("ns/lwa-client-secret", "amzn1.oa2-cs.v1.secret-value")
    before = rows(db)
    done = rotate_configured_key(
        {KEY_ENV: old, NEW_KEY_ENV: new}, None, db.secret_rows, new_key_command=None
    )
    assert done.reencrypted == 2
    assert done.new_key_id == parse_key(new, "x").key_id != done.old_key_id
    after = rows(db)
    assert {r[0]: r[3] for r in after} == {r[0]: r[3] for r in before}
    assert not {r[2] for r in after} & {r[2] for r in before}
    assert store_for(db, new).get("ns/refresh-token:acme-us") == TOKEN
    with pytest.raises(SecretStoreError, match="not the key"):
        store_for(db, old).get("ns/refresh-token:acme-us")
    # A process that verified the old key before the rotation writes nothing after it.
    with pytest.raises(SecretStoreError, match="not the key"):
        store.set("ns/refresh-token:acme-us", "Atzr|IwEBIstale-writer")
    assert store_for(db, new).get("ns/refresh-token:acme-us") == TOKEN


def test_rotation_is_all_or_nothing(db: Database) -> None:
    old, new = new_key_text(), new_key_text()
    store = store_for(db, old)
    store.set("ns/refresh-token:acme-us", TOKEN)
    store.set("ns/refresh-token:bolt-us", "Atzr|IwEBIbolt-token-value")
    swap(db, "ns/refresh-token:bolt-us", "ns/refresh-token:acme-us")  # one damaged row
    before = rows(db)
    with pytest.raises(SecretStoreError, match="no secret was re-encrypted"):
        rotate_key(db.secret_rows, parse_key(old, "a"), parse_key(new, "b"))
    assert rows(db) == before
    with pytest.raises(SecretStoreError, match="not the key"):
        rotate_key(db.secret_rows, parse_key(new_key_text(), "a"), parse_key(new, "b"))
    assert rows(db) == before
    with pytest.raises(UsageError, match="the key in use"):
        rotate_key(db.secret_rows, parse_key(old, "a"), parse_key(old, "b"))


class Racing:
    """Rows whose table changes between the rotation's read and its write."""

    def __init__(self, db: Database, store: DatabaseSecretStore) -> None:
        self.inner = db.secret_rows
        self.store = store

    def all(self) -> list[SealedSecret]:
        found = self.inner.all()
        self.store.set("ns/refresh-token:late", "Atzr|IwEBIwritten-meanwhile")
        return found

    def replace_all(self, before: Sequence[SealedSecret], after: Sequence[SealedSecret]) -> bool:
        return self.inner.replace_all(before, after)


def test_a_secret_written_during_rotation_stops_it(db: Database) -> None:
    old, new = new_key_text(), new_key_text()
    store = store_for(db, old)
    store.set("ns/refresh-token:acme-us", TOKEN)
    with pytest.raises(SecretStoreError, match="written while rotating"):
        rotate_key(Racing(db, store), parse_key(old, "a"), parse_key(new, "b"))  # type: ignore[arg-type]
    assert store_for(db, old).get("ns/refresh-token:late") == "Atzr|IwEBIwritten-meanwhile"


def test_rotation_needs_a_new_key(db: Database) -> None:
    old = new_key_text()
    store_for(db, old).set("ns/lwa-client-secret", "amzn1.oa2-cs.v1.secret-value")
    with pytest.raises(UsageError, match="no new key"):
        rotate_configured_key({KEY_ENV: old}, None, db.secret_rows, new_key_command=None)
    with pytest.raises(SecretStoreError, match="is not a key"):
        rotate_configured_key(
            {KEY_ENV: old, NEW_KEY_ENV: "short"}, None, db.secret_rows, new_key_command=None
        )


def test_delete_inside_the_store_deletion_rolls_back_with_it(db: Database) -> None:
    store = store_for(db, new_key_text())
    store.set("ns/refresh-token:acme-us", TOKEN)
    with pytest.raises(RuntimeError), db.deleting_store("acme-us", NOW):
        store.delete("ns/refresh-token:acme-us")
        raise RuntimeError("the config edit failed")
    assert store.get("ns/refresh-token:acme-us") == TOKEN
    with db.deleting_store("acme-us", NOW):
        store.delete("ns/refresh-token:acme-us")
    assert store.get("ns/refresh-token:acme-us") is None


def test_db_never_imports_cryptography() -> None:
    import subprocess

    code = (
        "import sys\n"
        "from soldscope_cli.db.database import Database, MIGRATIONS\n"
        "import soldscope_cli.db.tables.secret_rows\n"
        "print('cryptography' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_doctor_reports_the_key_state_and_writes_nothing(db: Database, tmp_path: Path) -> None:
    from soldscope_cli.doctor.model import Level
    from soldscope_cli.doctor.secret_probe import check_secret_store

    key = new_key_text()
    store_for(db, key).set("ns/refresh-token:acme-us", TOKEN)
    env = {"SOLDSCOPE_SECRETS": "database"}
    before = rows(db)
    result, probe = check_secret_store(
        env, None, lambda _c: store_for(db, key), 2.0, database_file=db.path
    )
    assert result.status == Level.OK
    assert f"key {parse_key(key, 'x').key_id} from {KEY_ENV} matches" in result.detail
    assert "1 secret stored" in result.detail
    assert probe is not None and not probe.client_secret_stored
    assert rows(db) == before
    wrong, _ = check_secret_store(
        env, None, lambda _c: store_for(db, new_key_text()), 2.0, database_file=db.path
    )
    assert wrong.status == Level.FAIL and "is not the key" in wrong.detail
    missing = tmp_path / "none" / "soldscope.db"
    fresh, _ = check_secret_store(
        env, None, lambda _c: store_for(db, key), 2.0, database_file=missing
    )
    assert fresh.status == Level.OK and "no state database yet" in fresh.detail
    assert not missing.parent.exists()
    for text in (result.detail, wrong.detail, fresh.detail):
        assert key not in text and TOKEN not in text


def test_connect_then_delete_through_a_home_keeps_record_token_and_row_together(
    db: Database, tmp_path: Path
) -> None:
    from soldscope_cli.fleet.config import ConfigFile, StoreRecord
    from soldscope_cli.fleet.connections import delete_connection, save_connection
    from soldscope_cli.fleet.namespaces import NamespacedSecretStore
    from soldscope_cli.fleet.secrets import token_key

    home = ConfigFile(tmp_path / "config.toml", tmp_path / "config.lock")
    store = NamespacedSecretStore(store_for(db, new_key_text()), home)
    record = StoreRecord("acme-us", "na", ["US"], NOW)
    assert not save_connection(home, store, db, record, TOKEN, NOW)
    assert store.get(token_key("acme-us")) == TOKEN
    live = db.live_store_id("acme-us")
    sealed = {r[0]: r[3] for r in rows(db)}
    assert sealed[f"{home.load().secrets_namespace}/refresh-token:acme-us"] == live
    delete_connection(home, store, db, "acme-us", NOW)
    assert store.get(token_key("acme-us")) is None
    assert db.live_store_id("acme-us") is None
    assert [r[0] for r in rows(db)] == [KEY_CHECK_NAME]
