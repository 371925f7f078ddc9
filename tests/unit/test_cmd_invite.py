"""`soldscope invite` and `invites`: flags reach the use cases, the JSON shapes, the renewal campaign."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Harness, make_harness

from soldscope_cli.db.model import CheckRecord
from soldscope_cli.fleet.config import ConfigFile

REDIRECT = "https://agency.example/callback"
INVITE_KEYS = {
    "name",
    "kind",
    "link",
    "status",
    "region",
    "marketplaces",
    "note",
    "created_at",
    "expires_at",
    "reused",
}
LIST_KEYS = {
    "name",
    "kind",
    "status",
    "region",
    "marketplaces",
    "note",
    "created_at",
    "expires_at",
    "used_at",
    "last_failure",
}


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return make_harness(tmp_path, env={"SOLDSCOPE_REDIRECT_URI": REDIRECT})


def run_json(h: Harness, invoke: Any, *args: str) -> Any:
    result = invoke(h, *args, "--json")
    assert result.exit_code == 0, h.stderr
    return json.loads(h.stdout)


def test_invite_prints_the_link_alone_on_stdout(h: Harness, invoke: Any) -> None:
    result = invoke(h, "invite", "acme-us", "--marketplace", "US")
    assert result.exit_code == 0, h.stderr
    link = h.stdout.strip()
    assert link.startswith("https://agency.example/invite/") and "\n" not in link
    assert "Invitation to connect acme-us (US)" in h.stderr


def test_invite_json_shape_and_reuse(h: Harness, invoke: Any) -> None:
    first = run_json(h, invoke, "invite", "acme-us", "--marketplace", "US", "--note", "call")
    assert set(first) == INVITE_KEYS
    assert first["kind"] == "new" and first["status"] == "pending" and not first["reused"]
    assert first["expires_at"] > first["created_at"]
    again = run_json(h, invoke, "invite", "acme-us")
    assert again["reused"] and again["link"] == first["link"]
    # Asking for something else while one is pending is refused, naming the way out.
    result = invoke(h, "invite", "acme-us", "--marketplace", "CA")
    assert result.exit_code == 2 and "invites revoke acme-us" in h.stderr


def test_public_url_from_config_and_env(h: Harness, invoke: Any) -> None:
    with ConfigFile(h.ctx.paths.config_file, h.ctx.paths.config_lock).edit() as cfg:
        cfg.serve.public_url = "https://join.agency.example/soldscope/"
    assert run_json(h, invoke, "invite", "a", "--region", "eu")["link"].startswith(
        "https://join.agency.example/soldscope/invite/"
    )
    h.ctx.env = {**h.ctx.env, "SOLDSCOPE_PUBLIC_URL": "https://other.example"}  # type: ignore[misc]
    assert run_json(h, invoke, "invite", "b", "--region", "eu")["link"].startswith(
        "https://other.example/invite/"
    )


def test_an_existing_store_gets_a_renewal(h: Harness, invoke: Any) -> None:
    h.add_store("acme-us", marketplaces=["US", "CA"])
    data = run_json(h, invoke, "invite", "acme-us")
    assert data["kind"] == "renewal" and data["marketplaces"] == ["US", "CA"]


def test_renew_picks_expired_rejected_and_expiring_stores(h: Harness, invoke: Any) -> None:
    now = h.clock.now
    h.add_store("fresh", authorized_at=now)
    h.add_store("soon", authorized_at=now - timedelta(days=350))
    h.add_store("gone", authorized_at=now - timedelta(days=400))
    h.add_store("broken", authorized_at=now - timedelta(days=10))
    h.ctx.database().record_check(
        CheckRecord("broken", now, "validate", "problem", "invalid_grant", "revoked")
    )
    names = [row["name"] for row in run_json(h, invoke, "invite", "--renew")]
    assert names == ["broken", "gone", "soon"]
    again = run_json(h, invoke, "invite", "--renew")
    assert all(row["reused"] for row in again) and len(again) == 3
    assert [row["name"] for row in run_json(h, invoke, "invite", "--renew", "fresh")] == ["fresh"]
    assert (
        run_json(h, invoke, "invite", "--renew", "--expiring-within", "400")[0]["name"] == "broken"
    )


def test_invites_lists_and_revokes(h: Harness, invoke: Any) -> None:
    run_json(h, invoke, "invite", "acme-us", "--marketplace", "US")
    listed = run_json(h, invoke, "invites")
    assert [set(row) for row in listed] == [LIST_KEYS]
    assert listed[0]["status"] == "pending" and listed[0]["used_at"] is None
    assert listed[0]["last_failure"] is None
    result = invoke(h, "invites", "revoke", "acme-us")
    assert result.exit_code == 0 and "Revoked" in h.stderr
    assert run_json(h, invoke, "invites") == []
    assert run_json(h, invoke, "invites", "--all")[0]["status"] == "revoked"
    assert invoke(h, "invites", "revoke", "acme-us").exit_code == 2
    events = [row["kind"] for row in h.ctx.database().events("acme-us")]
    assert events[:2] == ["invitation_revoked", "invited"]


def test_invite_usage_errors(h: Harness, invoke: Any) -> None:
    assert invoke(h, "invite").exit_code == 2
    assert invoke(h, "invite", "a", "b").exit_code == 2
    assert invoke(h, "invite", "a").exit_code == 2 and "no marketplace" in h.stderr
    assert invoke(h, "invite", "--renew", "--marketplace", "US").exit_code == 2
    assert invoke(h, "invite", "a", "--expiring-within", "3").exit_code == 2


def test_no_public_url_is_a_config_error(tmp_path: Path, invoke: Any) -> None:
    h = make_harness(tmp_path)
    result = invoke(h, "invite", "a", "--marketplace", "US")
    assert result.exit_code == 2 and "no public URL" in h.stderr


def test_serve_section_round_trips_and_is_strict(tmp_path: Path) -> None:
    h = make_harness(tmp_path)
    file = ConfigFile(h.ctx.paths.config_file, h.ctx.paths.config_lock)
    h.ctx.paths.config_dir.mkdir(parents=True)
    h.ctx.paths.config_file.write_text(
        '[serve]\npublic_url = "https://a.example"\nagency_name = "Northwind"\n'
    )
    with file.edit() as cfg:
        assert cfg.serve.agency_name == "Northwind"
    assert file.load().serve.public_url == "https://a.example"
    h.ctx.paths.config_file.write_text('[serve]\npublic_url = "ftp://x"\n')
    from soldscope_cli.errors import ConfigError

    with pytest.raises(ConfigError, match="line 2"):
        file.load()
    h.ctx.paths.config_file.write_text("[serve]\nport = 3\n")
    with pytest.raises(ConfigError, match="unknown key 'port' in \\[serve\\]"):
        file.load()


@pytest.mark.parametrize("source", ["env", "config"])
@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://agency.example", False),
        ("http://connect.agency.example:8080/soldscope", False),
        ("https://agency.example", True),
        ("http://127.0.0.1:8400", True),
        ("http://localhost:8400/x", True),
    ],
)
def test_one_rule_for_the_public_url_wherever_it_is_set(
    h: Harness, invoke: Any, source: str, url: str, allowed: bool
) -> None:
    """Links over plain http travel in the clear: only this machine's own address may use it."""
    if source == "env":
        h.ctx.env = {**h.ctx.env, "SOLDSCOPE_PUBLIC_URL": url}  # type: ignore[misc]
        where = "SOLDSCOPE_PUBLIC_URL"
    else:
        h.ctx.paths.config_file.parent.mkdir(parents=True, exist_ok=True)
        h.ctx.paths.config_file.write_text(f'[serve]\npublic_url = "{url}"\n')
        where = "public_url"
    result = invoke(h, "invite", "acme", "--marketplace", "US")
    if allowed:
        assert result.exit_code == 0, h.stderr
        assert h.stdout.startswith(f"{url}/invite/")
    else:
        assert result.exit_code == 2, h.stdout + h.stderr
        assert where in h.stderr and "https://" in h.stderr and "Traceback" not in h.stderr
