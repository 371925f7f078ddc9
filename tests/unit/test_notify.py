"""Alerts: [[notify]] parsing, what counts as new, the wording, secrets, bounded delivery."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.db.database import StoreState
from soldscope_cli.errors import ConfigError
from soldscope_cli.fleet.config import Config, StoreRecord, dump_config, parse_config
from soldscope_cli.fleet.listing import build_row
from soldscope_cli.notify.alerts import app_alerts, expiring_threshold, status_alerts
from soldscope_cli.notify.announce import announce_validation
from soldscope_cli.notify.message import compose
from soldscope_cli.notify.sender import Notifier
from soldscope_cli.notify.targets import load_targets
from soldscope_cli.redact import redact
from soldscope_cli.status import Problem

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PATH = Path("/home/x/config.toml")


def record(name: str = "acme-us", days_left: int = 200) -> StoreRecord:
    authorized = NOW - timedelta(days=365 - days_left)
    return StoreRecord(name, "na", ["US"], authorized)


def test_notify_tables_parse_and_survive_a_rewrite() -> None:
    text = (
        "[alerts]\nexpiring_days = [7, 30, 14]\n\n"
        '[[notify]]\nurl = "slack://TokenA/TokenB/TokenC"\n\n'
        '[[notify]]\nurl = "json://hooks.example.com/x"\nevents = ["error", "expired"]\n'
        'stores = ["acme-us"]\n'
    )
    config = parse_config(PATH, text)
    assert config.expiring_days == (30, 14, 7)
    assert [t.url for t in config.notify] == [
        "slack://TokenA/TokenB/TokenC",
        "json://hooks.example.com/x",
    ]
    assert config.notify[1].wants("error", "acme-us")
    assert not config.notify[1].wants("error", "bolt-us")
    assert not config.notify[1].wants("expiring", "acme-us")
    assert config.notify[1].wants("error", None)
    again = parse_config(PATH, dump_config(config))
    assert again.notify == config.notify and again.expiring_days == config.expiring_days


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ('[[notify]]\nurl = "json://a/b"\n\n[[notify]]\nevents = ["error"]\n', 4, "needs url"),
        ('[[notify]]\nurl = "json://a/b"\nevents = ["broken"]\n', 3, "unknown event 'broken'"),
        ('[[notify]]\nurl = "json://a/b"\ncolour = "red"\n', 3, "unknown key 'colour'"),
        ("[alerts]\nexpiring_days = [0]\n", 2, "expiring_days must be"),
    ],
)
def test_notify_errors_point_at_the_line(text: str, line: int, what: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(PATH, text)
    assert f"line {line}," in str(caught.value)
    assert what in str(caught.value)


def test_every_credential_part_of_a_url_is_redacted() -> None:
    config = Config()
    env = {
        "SOLDSCOPE_NOTIFY_URLS": "mailto://me:pa55word99@mail.example.com?to=ops@example.com, "
        "slack://T1ABCDEFG/B2ABCDEFG/xoxbsecret123"
    }
    targets = load_targets(env, config)
    assert [t.label for t in targets] == ["target 1 (mailto)", "target 2 (slack)"]
    text = redact("pa55word99 T1ABCDEFG B2ABCDEFG xoxbsecret123 " + env["SOLDSCOPE_NOTIFY_URLS"])
    for secret in ("pa55word99", "T1ABCDEFG", "B2ABCDEFG", "xoxbsecret123"):
        assert secret not in text
    assert "mail.example.com" in redact("mail.example.com")  # a host name is no secret


def test_expiring_thresholds() -> None:
    assert expiring_threshold(25, (30, 7)) == 30
    assert expiring_threshold(7, (30, 7)) == 7
    assert expiring_threshold(31, (30, 7)) is None


def row(days_left: int = 200, problem: Problem | None = None, name: str = "acme-us") -> Any:
    return build_row(record(name, days_left), StoreState(problem=problem), NOW)


def test_expiring_is_announced_at_30_then_at_7_only() -> None:
    last: dict[Any, Any] = {}
    first = status_alerts([row(25)], last, (30, 7))
    assert [(a.event, a.state["threshold"]) for a in first] == [("expiring", 30)]
    last[("acme-us", "status")] = first[0].state
    assert status_alerts([row(20)], last, (30, 7)) == []
    later = status_alerts([row(6)], last, (30, 7))
    assert [a.state["threshold"] for a in later] == [7]
    assert "6 days left" in later[0].detail
    assert later[0].command == "soldscope connect acme-us"


def test_active_stores_never_announced_recover_silently() -> None:
    assert status_alerts([row()], {}, (30, 7)) == []
    last = {("acme-us", "status"): {"channel": "status", "kind": "error", "code": "forbidden"}}
    assert [a.event for a in status_alerts([row()], last, (30, 7))] == ["recovered"]


def test_the_app_rejection_is_one_alert() -> None:
    alerts = app_alerts("invalid_client", {}, checked=True)
    assert [(a.event, a.store, a.command) for a in alerts] == [
        ("app_rejected", None, "soldscope app set --client-secret-stdin")
    ]
    assert app_alerts("invalid_client", {(None, "app"): alerts[0].state}, checked=True) == []


def test_one_message_names_store_region_status_and_command() -> None:
    problem = Problem("invalid_grant", "The refresh token was revoked.", NOW)
    title, body = compose(status_alerts([row(problem=problem)], {}, (30, 7)))
    assert title == "soldscope: acme-us (na): error"
    assert body == (
        "acme-us (na): error\n"
        "invalid_grant: The refresh token was revoked. (200 days left)\n"
        "Run: soldscope connect acme-us"
    )


class FakeLog:
    def __init__(self) -> None:
        self.entries: list[tuple[str | None, dict[str, Any]]] = []

    def last_notified(self) -> dict[tuple[str | None, str], dict[str, Any]]:
        return {(store, d["channel"]): d for store, d in self.entries}

    def log_notified(self, at: datetime, entries: Any) -> None:
        self.entries += list(entries)


def test_a_failed_delivery_is_not_recorded_and_a_slow_one_is_cut_short() -> None:
    targets = load_targets({"SOLDSCOPE_NOTIFY_URLS": "json://a.example.com/x"}, Config())
    problem = Problem("forbidden", "denied", NOW)

    def slow(url: str, title: str, body: str) -> str | None:
        time.sleep(5)
        return None

    log = FakeLog()
    started = time.monotonic()
    failures = announce_validation(
        Notifier(targets, send=slow, timeout=0.2),
        log,
        [row(problem=problem)],
        None,
        thresholds=(30, 7),
        clock=lambda: NOW,
    )
    assert time.monotonic() - started < 2
    assert [f.error for f in failures] == ["no answer within 0.2 s"]
    assert log.entries == []
    sent: list[str] = []
    ok = Notifier(targets, send=lambda url, title, body: sent.append(title) or None)
    assert (
        announce_validation(
            ok, log, [row(problem=problem)], None, thresholds=(30, 7), clock=lambda: NOW
        )
        == []
    )
    assert (
        announce_validation(
            ok, log, [row(problem=problem)], None, thresholds=(30, 7), clock=lambda: NOW
        )
        == []
    )
    assert sent == ["soldscope: acme-us (na): error"]
