"""Terminal escape sequences in what Amazon or a user sends never reach a terminal, an alert or the
database: the installed command against the simulator, with a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.test_validate import SELLERS, World, world  # noqa: F401  (the fixture)
from tests.webhook import Receiver, running_receiver

pytestmark = pytest.mark.e2e

CLEAR = "\x1b[2J\x1b[H"
LINK = "\x1b]8;;https://evil.example/\x1b\\click here\x1b]8;;\x1b\\"
EVIL = f"{CLEAR}Access denied {LINK}\x07"
CONTROLS = ("\x1b", "\x07", "\x9b", "\x9d")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def assert_clean(*texts: str) -> None:
    for text in texts:
        for char in CONTROLS:
            assert char not in text, repr(text)
        assert "evil.example" not in text and "[2J" not in text, repr(text)


def database_texts(home: Path) -> list[str]:
    """Every text column of every table of the state database."""
    conn = sqlite3.connect(f"file:{home / 'data' / 'soldscope.db'}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        found: list[str] = []
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 (our own names)
                found.extend(v for v in row if isinstance(v, str))
        return found
    finally:
        conn.close()


def test_an_spapi_error_message_is_stripped_everywhere(
    world: World,  # noqa: F811
    receiver: Receiver,
) -> None:
    world.sim.add_failure(
        403,
        count=None,
        path_prefix="/sellers/",
        body={"errors": [{"code": f"Unauthorized{CLEAR}", "message": EVIL, "details": EVIL}]},
    )
    env = {"SOLDSCOPE_NOTIFY_URLS": receiver.url}
    plain = world.cli.run("validate", "bolt-us", env=env)
    assert plain.returncode == 1, plain.stderr
    as_json = world.cli.run("validate", "bolt-us", "--json", "--no-notify")
    listed = world.cli.run("list", "--wide")
    log = world.cli.run("log")
    outputs = [plain, as_json, listed, log]
    assert_clean(*(r.stdout + r.stderr for r in outputs))
    assert "Access denied click here" in plain.stdout + plain.stderr
    row = json.loads(as_json.stdout)[0]
    assert row["error"]["message"].startswith("Access denied click here")
    assert receiver.messages, "the error was announced"
    assert_clean(*(json.dumps(m) for m in receiver.messages))
    assert_clean(*database_texts(world.cli.home))


def test_an_lwa_error_description_is_stripped(world: World) -> None:  # noqa: F811
    world.sim.add_failure(
        400,
        count=None,
        path_prefix="/auth/o2/token",
        body={"error": f"invalid_request{CLEAR}", "error_description": EVIL},
    )
    result = world.cli.run("validate", "acme-us", "--no-notify")
    assert result.returncode == 3, result.stderr  # a bad request is no verdict on the store
    listed = world.cli.run("list", "--wide")
    assert_clean(result.stdout + result.stderr, listed.stdout, *database_texts(world.cli.home))
    assert "invalid_request" in result.stdout + result.stderr


def test_an_invitation_note_is_stripped(world: World) -> None:  # noqa: F811
    env = {"SOLDSCOPE_REDIRECT_URI": "https://agency.example/soldscope/callback"}
    made = world.cli.run("invite", "dune-us", "--marketplace", "US", "--note", EVIL, env=env)
    assert made.returncode == 0, made.stderr
    shown = world.cli.run("invites", env=env)
    as_json = world.cli.run("invites", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert_clean(made.stdout + made.stderr, shown.stdout, shown.stderr, as_json.stdout)
    assert json.loads(as_json.stdout)[0]["note"] == "Access denied click here"
    assert_clean(*database_texts(world.cli.home))
