"""A new store's token is named in the ledger before it is stored; doctor finds the tokens no
store uses, `delete NAME` removes them, and the retention keeps the ledger's trace meanwhile."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import NOW, Harness, make_harness, reopen
from tests.unit.test_doctor import by_id, inputs, record, write_config

from soldscope_cli.db.database import MIGRATIONS, Database
from soldscope_cli.db.model import TOKEN_WRITTEN
from soldscope_cli.doctor.leftovers import check_leftover_tokens
from soldscope_cli.doctor.model import Level
from soldscope_cli.doctor.runner import leftover_tokens, run_doctor
from soldscope_cli.errors import SecretStoreError, UsageError
from soldscope_cli.fleet.config import Config, ConfigFile, StoreRecord
from soldscope_cli.fleet.connections import save_connection
from soldscope_cli.fleet.paths import Paths
from soldscope_cli.fleet.secrets import MemorySecretStore, token_key

TOKEN = "Atzr|leftover-test-token"
OLD = NOW - timedelta(days=500)  # past the default retention of 400 days


class LedgerAtSet(MemorySecretStore):
    """Records, at each `set`, the token_written events another connection can already read."""

    def __init__(self, ledger: Callable[[], list[str]]) -> None:
        super().__init__()
        self.ledger = ledger
        self.seen: list[list[str]] = []

    def set(self, key: str, value: str) -> None:
        self.seen.append(self.ledger())
        super().set(key, value)


def token_events(db: Any, name: str) -> list[dict[str, Any]]:
    return [e for e in db.events(name) if e["kind"] == TOKEN_WRITTEN]


def save(
    db: Any,
    tmp_path: Path,
    secrets: MemorySecretStore,
    name: str = "acme-us",
    verify: Callable[[Mapping[str, StoreRecord]], None] | None = None,
) -> bool:
    paths = Paths(tmp_path / "config", tmp_path / "data")
    return save_connection(
        ConfigFile(paths.config_file, paths.config_lock),
        secrets,
        db,
        record(name),
        TOKEN,
        NOW,
        verify=verify,
    )


# --- the ledger event, on both engines (team mode: the registry's path) --------------------------


def test_a_new_stores_token_is_in_the_ledger_before_it_is_stored(
    make_db: Callable[..., Any], tmp_path: Path
) -> None:
    db = make_db()
    other = reopen(db)  # another process: it sees only what was committed
    secrets = LedgerAtSet(lambda: [e["detail"] for e in token_events(other, "acme-us")])
    assert save(db, tmp_path, secrets) is False
    [seen] = secrets.seen
    assert len(seen) == 1 and TOKEN not in seen[0]
    assert '"key": "refresh-token:acme-us"' in seen[0] and '"backend": "memory"' in seen[0]
    other.close()


def test_a_renewal_writes_no_ledger_event(make_db: Callable[..., Any], tmp_path: Path) -> None:
    db = make_db()
    secrets = MemorySecretStore()
    save(db, tmp_path, secrets)
    assert save(db, tmp_path, secrets) is True
    assert len(token_events(db, "acme-us")) == 1


def test_a_refused_connect_writes_no_event_and_no_token(
    make_db: Callable[..., Any], tmp_path: Path
) -> None:
    db = make_db()
    secrets = MemorySecretStore()

    def refuse(_stores: Mapping[str, StoreRecord]) -> None:
        raise UsageError("duplicate seller")

    with pytest.raises(UsageError):
        save(db, tmp_path, secrets, verify=refuse)
    assert token_events(db, "acme-us") == [] and secrets.values == {}


# --- retention and the log ------------------------------------------------------------------------


def test_the_retention_keeps_a_token_written_event_until_it_is_settled(
    make_db: Callable[..., Any],
) -> None:
    db = make_db()
    for name in ("connected-us", "deleted-us", "lost-us"):
        db.log_event(TOKEN_WRITTEN, OLD, name, {"key": token_key(name)})
    db.log_event("connected", OLD, "connected-us")
    db.log_event("deleted", OLD, "deleted-us", {"leftover_token": True})
    db.log_event("checked", OLD, "lost-us")
    assert db.prune(NOW)["events"] == 5
    assert [(e["store"], e["kind"]) for e in db.events()] == [("lost-us", TOKEN_WRITTEN)]


def test_the_log_leaves_token_written_out(make_db: Callable[..., Any]) -> None:
    db = make_db()
    db.connect_store("acme-us", NOW, event="connected", selling_partner_id=None, region="na")
    db.log_event(TOKEN_WRITTEN, NOW, "acme-us", {"key": token_key("acme-us")})
    assert [e.kind for e in db.history(None)] == ["connected"]


# --- doctor ---------------------------------------------------------------------------------------


class CountingBatches(MemorySecretStore):
    """A store that reads in batches (BatchReader), counting them and the keys asked."""

    def __init__(self, initial: Mapping[str, str]) -> None:
        super().__init__(initial)
        self.batches: list[int] = []
        self.asked: set[str] = set()

    def get_many(self, keys: Sequence[str]) -> dict[str, str | None]:
        self.batches.append(len(keys))
        self.asked.update(keys)
        return {key: self.values.get(key) for key in keys}


def test_only_names_without_a_store_are_read_in_batches_and_reported_oldest_first() -> None:
    written = {f"gone-{i:03}": NOW for i in range(120)}
    written |= {"kept-us": NOW, "lost-b": NOW - timedelta(days=2), "lost-a": NOW}
    secrets = CountingBatches({token_key(n): TOKEN for n in ("kept-us", "lost-a", "lost-b")})
    found = check_leftover_tokens(written, {"kept-us"}, secrets)
    assert secrets.batches == [50, 50, 22] and token_key("kept-us") not in secrets.asked
    assert [(r.id, r.title, r.status, r.fix) for r in found] == [
        ("leftover-token:lost-b", "Leftover token lost-b", Level.FAIL, "soldscope delete lost-b"),
        ("leftover-token:lost-a", "Leftover token lost-a", Level.FAIL, "soldscope delete lost-a"),
    ]
    assert found[0].detail.startswith(
        f"a refresh token stored on {NOW - timedelta(days=2):%Y-%m-%d %H:%M} UTC"
    )
    assert check_leftover_tokens(written, {"kept-us"}, CountingBatches({})) == []


def test_doctor_reads_the_ledger_of_a_sqlite_home(tmp_path: Path) -> None:
    assert run_doctor(inputs(tmp_path), checks=[leftover_tokens]) == []  # no database file
    write_config(tmp_path, Config(stores={"kept-us": record("kept-us")}))
    db = Database(tmp_path / "data" / "soldscope.db", MIGRATIONS)
    for name in ("kept-us", "lost-us", "gone-us"):
        db.log_event(TOKEN_WRITTEN, NOW, name, {"key": token_key(name)})
    db.close()
    secrets = MemorySecretStore({token_key(n): TOKEN for n in ("kept-us", "lost-us")})
    found = by_id(run_doctor(inputs(tmp_path, store=secrets), checks=[leftover_tokens]))
    assert list(found) == ["leftover-token:lost-us"]
    assert found["leftover-token:lost-us"].fix == "soldscope delete lost-us"


class Unusable(MemorySecretStore):
    def get(self, key: str) -> str | None:
        raise SecretStoreError("no usable OS keyring", "see docs/configuration.md")


def test_an_unusable_secret_store_skips_the_check(tmp_path: Path) -> None:
    write_config(tmp_path, Config())
    db = Database(tmp_path / "data" / "soldscope.db", MIGRATIONS)
    db.log_event(TOKEN_WRITTEN, NOW, "lost-us", {"key": token_key("lost-us")})
    db.close()
    [line] = run_doctor(inputs(tmp_path, store=Unusable()), checks=[leftover_tokens])
    assert (line.id, line.status) == ("leftover-tokens", Level.SKIP)
    assert line.detail == "not checked: no usable OS keyring"


def test_doctor_reads_the_ledger_and_registry_of_a_team_database(
    tmp_path: Path, pg_url: str
) -> None:
    from soldscope_cli.db.postgres.engine import Database as TeamDatabase
    from soldscope_cli.fleet.team import to_registry

    write_config(tmp_path, Config(stores={"local-us": record("local-us")}))
    db = TeamDatabase(pg_url)
    db.registry.save(to_registry(record("kept-us")), NOW)
    for name in ("kept-us", "local-us", "lost-us"):
        db.log_event(TOKEN_WRITTEN, NOW, name, {"key": token_key(name)})
    db.close()
    secrets = MemorySecretStore({token_key(n): TOKEN for n in ("kept-us", "local-us", "lost-us")})
    env = {"SOLDSCOPE_DATABASE_URL": pg_url}
    found = run_doctor(inputs(tmp_path, env=env, store=secrets), checks=[leftover_tokens])
    # config.toml's own stores are not the team's: its token is a leftover there too.
    assert [r.id for r in found] == ["leftover-token:local-us", "leftover-token:lost-us"]


# --- delete ---------------------------------------------------------------------------------------


def leftover(h: Harness, name: str = "lost-us") -> None:
    h.ctx.database().log_event(TOKEN_WRITTEN, NOW, name, {"key": token_key(name)})
    h.secrets.set(token_key(name), TOKEN)


def test_delete_removes_a_leftover_token_and_settles_the_ledger(
    harness: Harness, invoke: Any
) -> None:
    harness.add_store("kept-us")
    leftover(harness)
    result = invoke(harness, "delete", "lost-us", "--yes")
    assert result.exit_code == 0, harness.stderr
    assert harness.stdout == "Deleted the leftover refresh token of lost-us (it had no store).\n"
    assert "Revoke" in harness.stderr
    assert harness.secrets.get(token_key("lost-us")) is None
    assert harness.secrets.get(token_key("kept-us")) == "Atzr|fake-refresh-token"
    [deleted, _] = harness.ctx.database().events("lost-us")
    assert (deleted["kind"], deleted["detail"]) == ("deleted", '{"leftover_token": true}')


def test_delete_of_a_leftover_token_asks_first(tmp_path: Path, invoke: Any) -> None:
    plain = make_harness(tmp_path / "plain")
    leftover(plain)
    assert invoke(plain, "delete", "lost-us").exit_code == 2
    assert "soldscope delete lost-us --yes" in plain.stderr
    assert plain.secrets.get(token_key("lost-us")) == TOKEN
    from typer.testing import CliRunner

    from soldscope_cli.cli import app

    h = make_harness(tmp_path / "tty", tty=True)
    leftover(h)
    declined = CliRunner().invoke(app, ["delete", "lost-us"], obj=h.ctx, input="n\n")
    assert declined.exit_code == 0 and h.secrets.get(token_key("lost-us")) == TOKEN
    accepted = CliRunner().invoke(app, ["delete", "lost-us"], obj=h.ctx, input="y\n")
    assert accepted.exit_code == 0 and h.secrets.get(token_key("lost-us")) is None


def test_a_name_with_neither_record_nor_token_is_still_unknown(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path)
    h.add_store("acme-us")
    assert invoke(h, "delete", "acme-uk", "--yes").exit_code == 2
    assert "no store named 'acme-uk'" in h.stderr
    broken = make_harness(tmp_path / "broken")
    broken.ctx.secret_store_override = Unusable()
    assert invoke(broken, "delete", "acme-uk", "--yes").exit_code == 2
    assert "no store named 'acme-uk'" in broken.stderr
