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
from soldscope_cli.notify.announce import Observed, announce_observed, last_deliveries
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
        "Run: soldscope connect acme-us\n"
        "Or send the seller a renewal link: soldscope invite acme-us"
    )


class FakeLog:
    def __init__(self) -> None:
        self.entries: list[tuple[str | None, dict[str, Any]]] = []

    def last_notified(self) -> dict[tuple[str | None, str], dict[str, Any]]:
        return {(store, d["channel"]): d for store, d in self.entries}

    def log_notified(self, at: datetime, entries: Any) -> None:
        self.entries += list(entries)


def validate_observed(rows: Any) -> Observed:
    return Observed(rows, app_checked=True, stale=False)


def test_a_failed_delivery_is_not_recorded_and_a_slow_one_is_cut_short() -> None:
    targets = load_targets({"SOLDSCOPE_NOTIFY_URLS": "json://a.example.com/x"}, Config())
    problem = Problem("forbidden", "denied", NOW)

    def slow(url: str, title: str, body: str) -> str | None:
        time.sleep(5)
        return None

    log = FakeLog()
    started = time.monotonic()
    failures = announce_observed(
        Notifier(targets, send=slow, timeout=0.2),
        log,  # type: ignore[arg-type]
        Config(),
        validate_observed([row(problem=problem)]),
        lambda: NOW,
    )
    assert time.monotonic() - started < 2
    assert [f.error for f in failures] == ["no answer within 0.2 s"]
    assert [d["channel"] for _, d in log.entries] == [
        "delivery:" + __import__("hashlib").sha256(b"json://a.example.com/x").hexdigest()[:16]
    ]  # only how the delivery went, for doctor: the alert itself is still to be told
    [(fp, last)] = last_deliveries(log).items()  # type: ignore[arg-type]
    assert (last["kind"], last["error"], last["target"]) == (
        "failed",
        "no answer within 0.2 s",
        "target 1 (json)",
    )
    sent: list[str] = []
    ok = Notifier(targets, send=lambda url, title, body: sent.append(title) or None)
    for _ in range(2):
        assert (
            announce_observed(
                ok,
                log,  # type: ignore[arg-type]
                Config(),
                validate_observed([row(problem=problem)]),
                lambda: NOW,
            )
            == []
        )
    assert sent == ["soldscope: acme-us (na): error"]
    assert last_deliveries(log)[fp]["kind"] == "ok"  # type: ignore[arg-type]


def test_app_and_dataset_alerts_grouped_with_a_store_in_error_are_sent_once(
    tmp_path: Path,
) -> None:
    """validate's announce path when one run sees a store in error, stale data and a due secret."""
    from soldscope_cli.db.database import MIGRATIONS, Database
    from soldscope_cli.fleet.config import NotifyTarget

    config = Config(
        stores={"acme-us": record("acme-us"), "bolt-us": record("bolt-us")},
        notify=[NotifyTarget("json://a.example.com/x")],
    )
    config.app.client_secret_set_at = NOW - timedelta(days=160)
    db = Database(tmp_path / "state.db", MIGRATIONS)
    try:
        for name in config.stores:
            db.connect_store(name, NOW, event="connected", selling_partner_id=None, region="na")
        run = db.start_sync_run("acme-us", "inventory", NOW - timedelta(days=3))
        db.finish_sync_run(run, NOW - timedelta(days=3), "ok", rows_added=1)
        sent: list[tuple[str, str]] = []
        notifier = Notifier(
            load_targets({}, config), send=lambda url, title, body: sent.append((title, body))
        )
        rows = [row(name="acme-us"), row(name="bolt-us", problem=Problem("forbidden", "x", NOW))]
        observed = Observed(rows, app_checked=True)  # as validate builds it
        for _ in range(2):
            assert announce_observed(notifier, db, config, observed, lambda: NOW) == []
    finally:
        db.close()
    [(title, body)] = sent  # the second run has nothing new: the first was recorded
    assert title == "soldscope: 3 changes (1 in error, 1 rotation due, 1 stale)"
    assert "bolt-us (na): error" in body
    assert "acme-us (na): Inventory data is stale" in body
    assert "the app's client secret must be rotated" in body


# --- stale data, the client secret's rotation, invitations, connect ---------------------------


def stale_item(stale: bool, synced: bool = True, dataset: str = "inventory") -> Any:
    from soldscope_cli.notify.alerts import StaleDataset

    age = timedelta(hours=50 if stale else 2) if synced else None
    return StaleDataset(
        "acme-us", "na", dataset, "Inventory", stale, synced, age, timedelta(hours=36)
    )


def test_a_dataset_that_stops_syncing_is_announced_once_then_fresh_again() -> None:
    from soldscope_cli.notify.alerts import stale_alerts

    last: dict[Any, Any] = {}
    [alert] = stale_alerts([stale_item(True)], last)
    assert (alert.event, alert.headline) == ("stale", "acme-us (na): Inventory data is stale")
    assert alert.detail == "last synced 50 h ago; the limit is 36 h"
    assert alert.command == "soldscope sync acme-us --dataset inventory"
    last[("acme-us", alert.channel)] = alert.state
    assert stale_alerts([stale_item(True)], last) == []
    [back] = stale_alerts([stale_item(False)], last)
    assert (back.event, back.state["kind"]) == ("recovered", "fresh")


def test_never_synced_data_is_not_news() -> None:
    from soldscope_cli.notify.alerts import stale_alerts

    assert stale_alerts([stale_item(True, synced=False)], {}) == []
    assert stale_alerts([stale_item(False)], {}) == []  # fresh and never announced: silent


def test_the_secret_rotation_is_announced_30_days_ahead_once_per_secret() -> None:
    from soldscope_cli.notify.alerts import rotation_alerts

    due = NOW + timedelta(days=40)
    assert rotation_alerts(due, NOW, {}) == []
    [alert] = rotation_alerts(due, NOW + timedelta(days=12), {})
    assert (alert.event, alert.store, alert.command) == (
        "rotation_due",
        None,
        "soldscope app set --client-secret-stdin",
    )
    assert "in 28 days" in alert.detail
    last = {(None, alert.channel): alert.state}
    assert rotation_alerts(due, NOW + timedelta(days=20), last) == []
    later = due + timedelta(days=180)  # the next secret, rotated in time
    assert rotation_alerts(later, later - timedelta(days=10), last) != []
    assert rotation_alerts(None, NOW, {}) == []


def test_with_a_rotation_queue_the_due_secret_is_rotated_by_app_rotate() -> None:
    from soldscope_cli.notify.alerts import rotation_alerts

    due = NOW + timedelta(days=10)
    [alert] = rotation_alerts(due, NOW, {}, queue=True)
    assert alert.command == "soldscope app rotate"
    assert "soldscope app rotate" in alert.detail and "Portal" not in alert.detail
    [portal] = rotation_alerts(due, NOW, {})
    assert "Solution Provider Portal" in portal.detail and portal.state == alert.state


def test_connect_announces_recovery_and_an_invitation_use() -> None:
    from soldscope_cli.notify.announce import after_connect, alerts_for

    healthy = row()
    problem_before = {("acme-us", "status"): {"channel": "status", "kind": "expired"}}
    plain = alerts_for(after_connect(healthy), problem_before, config=Config(), db=None, now=NOW)  # type: ignore[arg-type]
    assert [a.headline for a in plain] == ["acme-us (na): active again"]
    invited = alerts_for(
        after_connect(healthy, renewed=True, invitation_id=7),
        {},
        config=Config(),
        db=None,  # type: ignore[arg-type]
        now=NOW,
    )
    assert [(a.event, a.headline) for a in invited] == [
        ("invitation_used", "acme-us (na): renewed through its invitation link")
    ]
    assert invited[0].state == {"channel": "invitation", "kind": "used", "invitation": 7}
    renewed = alerts_for(
        after_connect(healthy, renewed=True, invitation_id=7),
        problem_before,
        config=Config(),
        db=None,  # type: ignore[arg-type]
        now=NOW,
    )
    assert compose(renewed)[0] == "soldscope: 2 changes (1 invitation used, 1 recovered)"


def test_new_events_can_be_chosen_by_a_target() -> None:
    text = '[[notify]]\nurl = "json://a/b"\nevents = ["stale", "rotation_due", "invitation_used", "digest"]\n'
    [target] = parse_config(PATH, text).notify
    assert target.wants("digest", None) and not target.wants("error", "acme-us")


def test_every_alert_command_is_a_command_soldscope_accepts() -> None:
    import shlex

    from click.testing import CliRunner

    from soldscope_cli.cli import app as cli_app
    from soldscope_cli.notify.alerts import (
        app_alerts,
        invitation_alert,
        rotation_alerts,
        stale_alerts,
    )

    alerts = [
        *status_alerts([row(problem=Problem("invalid_grant", "x", NOW))], {}, (30, 7)),
        *stale_alerts([stale_item(True, dataset="brand-analytics")], {}),
        *rotation_alerts(NOW, NOW, {}),
        *app_alerts("invalid_client", {}, checked=True),
        invitation_alert("acme-us", "na", "A1", 1, renewed=False),
    ]
    import typer

    command = typer.main.get_command(cli_app)
    for alert in alerts:
        assert alert.command is not None
        words = shlex.split(alert.command)
        assert words[0] == "soldscope"
        result = CliRunner().invoke(command, [*words[1:], "--help"])
        assert result.exit_code == 0, (alert.command, result.output)
        ctx = command.make_context("soldscope", list(words[1:]), resilient_parsing=True)
        assert ctx is not None


# --- the digest ---------------------------------------------------------------------------------


def health_item(store: str, stale: bool, synced: bool = True) -> Any:
    from soldscope_cli.sync.freshness import DatasetHealth

    last = NOW - timedelta(hours=60 if stale else 1) if synced else None
    return DatasetHealth(
        store,
        "inventory",
        10,
        None,
        last,
        None if last is None else NOW - last,
        timedelta(hours=36),
    )


def test_the_digest_lists_broken_expiring_stale_and_the_secret() -> None:
    from soldscope_cli.notify.digest import build_digest, digest_json, digest_message

    rows = [
        row(name="acme-us", days_left=12),
        row(name="bolt-us", problem=Problem("invalid_grant", "revoked", NOW)),
        row(name="cora-us", days_left=200),
        row(name="dora-us", days_left=-3),
    ]
    datasets = [
        health_item("cora-us", True),
        health_item("acme-us", False),
        health_item("dora-us", True, synced=False),
    ]
    digest = build_digest(rows, datasets, NOW + timedelta(days=20), NOW, 30)
    title, body = digest_message(digest)
    assert title == (
        "soldscope digest: 4 stores, 2 broken, 1 expiring within 30 days, 1 stale dataset"
    )
    assert body.splitlines() == [
        "Broken (2):",
        "  bolt-us (na): error: invalid_grant — run: soldscope connect bolt-us",
        "  dora-us (na): expired — run: soldscope connect dora-us",
        "Expiring within 30 days (1):",
        f"  acme-us (na): 12 days left (expires {(NOW + timedelta(days=12)):%Y-%m-%d}) — run: "
        "soldscope connect acme-us",
        "Stale (1):",
        "  cora-us (na) Inventory: last synced 60 h ago, limit 36 h — run: soldscope sync "
        "cora-us --dataset inventory",
        f"App client secret: rotate by {(NOW + timedelta(days=20)):%Y-%m-%d} (20 days left) — "
        "run: soldscope app set --client-secret-stdin",
    ]
    data = digest_json(digest)
    assert [r["name"] for r in data["broken"]] == ["bolt-us", "dora-us"]
    assert [r["name"] for r in data["expiring"]] == ["acme-us"]
    assert [(r["name"], r["dataset"]) for r in data["stale"]] == [("cora-us", "inventory")]
    assert data["stores"] == 4 and data["expiring_within_days"] == 30
    only = digest.for_stores(["acme-us", "gone"])
    assert (only.stores, len(only.broken), len(only.expiring), len(only.stale)) == (1, 0, 1, 0)


def test_a_clean_fleet_still_gets_its_digest() -> None:
    from soldscope_cli.notify.digest import build_digest, digest_message

    title, body = digest_message(build_digest([row()], [], None, NOW))
    assert title == "soldscope digest: 1 store, nothing to do"
    assert "Every store is active" in body


def test_the_digest_goes_to_targets_that_take_it_with_their_stores_only() -> None:
    from soldscope_cli.notify.digest import build_digest, send_digest

    text = (
        '[[notify]]\nurl = "json://a.example.com/all"\n\n'
        '[[notify]]\nurl = "json://b.example.com/errors"\nevents = ["error"]\n\n'
        '[[notify]]\nurl = "json://c.example.com/acme"\nstores = ["acme-us"]\n'
    )
    targets = load_targets({}, parse_config(PATH, text))
    sent: dict[str, str] = {}
    notifier = Notifier(targets, send=lambda url, title, body: sent.update({url: title}) or None)
    rows = [row(name="acme-us", days_left=5), row(name="bolt-us", days_left=6)]
    log = FakeLog()
    deliveries = send_digest(notifier, log, build_digest(rows, [], None, NOW), lambda: NOW)  # type: ignore[arg-type]
    assert [d.target.label for d in deliveries] == ["target 1 (json)", "target 3 (json)"]
    assert sent == {
        "json://a.example.com/all": "soldscope digest: 2 stores, 0 broken, 2 expiring within 30 days, 0 stale datasets",
        "json://c.example.com/acme": "soldscope digest: 1 store, 0 broken, 1 expiring within 30 days, 0 stale datasets",
    }
    assert len(log.entries) == 2  # each delivery, for doctor
