"""The alert kinds are one registry that config, messages, the digest and the docs agree with."""

from __future__ import annotations

import ast
import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli import alert_kinds
from soldscope_cli.alert_kinds import KINDS, NAMES, AlertKind, DigestSection, Severity
from soldscope_cli.db.database import StoreState
from soldscope_cli.errors import ConfigError
from soldscope_cli.fleet.config import NotifyTarget, StoreRecord, parse_config
from soldscope_cli.fleet.listing import build_row
from soldscope_cli.notify.alerts import (
    Alert,
    DatasetAccess,
    StaleDataset,
    SyncOutcome,
    app_alerts,
    invitation_alert,
    listing_alerts,
    role_alerts,
    rotation_alerts,
    rotation_failed_alert,
    secret_rotated_alert,
    stale_alerts,
    status_alerts,
    sync_alerts,
)
from soldscope_cli.notify.digest import build_digest, digest_json
from soldscope_cli.notify.message import compose
from soldscope_cli.status import Problem

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "soldscope_cli"
DOCS = ROOT / "docs" / "alerts.md"


def test_every_kind_is_complete() -> None:
    assert len(set(NAMES)) == len(KINDS)
    for kind in KINDS:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", kind.name), kind
        assert kind.label and kind.label == kind.label.strip(), kind
        assert isinstance(kind.severity, Severity), kind
        assert kind.digest is None or isinstance(kind.digest, DigestSection), kind
        if kind.fix is not None:
            assert kind.fix.startswith("soldscope "), kind
            fields = {f for _, f, _, _ in string.Formatter().parse(kind.fix) if f is not None}
            assert fields <= {"store", "dataset"}, kind


def test_every_kind_defined_is_listed() -> None:
    defined = [v for v in vars(alert_kinds).values() if isinstance(v, AlertKind)]
    assert sorted(k.name for k in defined) == sorted(NAMES)


def test_targets_without_events_get_what_they_always_got() -> None:
    everyone = NotifyTarget("json://a/b")
    assert all(everyone.wants(kind.name, "acme-us") for kind in KINDS)
    assert frozenset(NAMES) == alert_kinds.DEFAULT_EVENTS


def _alert_kinds_built(tree: ast.AST) -> list[ast.expr]:
    """The first argument of every Alert(...) call in a module."""
    return [
        node.args[0] if node.args else next(k.value for k in node.keywords if k.arg == "kind")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Alert"
    ]


def test_every_alert_the_code_builds_is_of_a_registered_kind() -> None:
    built: list[ast.expr] = []
    for path in SRC.rglob("*.py"):
        built += _alert_kinds_built(ast.parse(path.read_text(encoding="utf-8")))
    assert built, "no Alert(...) found: has the class been renamed?"
    for expr in built:
        where = ast.unparse(expr)  # `kinds.STALE`: a registry entry, never a bare string
        assert isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name), where
        assert expr.value.id == "kinds", where
        assert getattr(alert_kinds, expr.attr) in KINDS, where


def _row(name: str, days_left: int = 200, problem: Problem | None = None) -> Any:
    record = StoreRecord(name, "na", ["US"], NOW - timedelta(days=365 - days_left))
    return build_row(record, StoreState(problem=problem), NOW)


def every_alert() -> list[Alert]:
    """One real alert of every kind the code announces, as its own function words it."""
    was = {"channel": "status", "kind": "error", "code": "forbidden"}
    return [
        *status_alerts(
            [
                _row("acme-us", problem=Problem("invalid_grant", "revoked", NOW)),
                _row("bolt-us", days_left=-2),
                _row("cora-us", days_left=20),
                _row("dora-us"),
            ],
            {("dora-us", "status"): was},
            (30, 7),
        ),
        *sync_alerts([SyncOutcome("acme-us", "na", failed=True, reason="boom")], {}),
        *stale_alerts(
            [
                StaleDataset(
                    "acme-us",
                    "na",
                    "inventory",
                    "Inventory",
                    True,
                    True,
                    timedelta(hours=50),
                    timedelta(hours=36),
                )
            ],
            {},
        ),
        *listing_alerts(
            [
                StaleDataset(
                    "acme-de",
                    "eu",
                    "settlements",
                    "Settlements",
                    False,
                    True,
                    timedelta(hours=1),
                    timedelta(days=21),
                    listed_at=NOW - timedelta(days=61),
                    listing_alert=timedelta(days=60),
                )
            ],
            {},
            NOW,
        ),
        *role_alerts([DatasetAccess("acme-us", "na", "finances", "Finances", False)], {}),
        *app_alerts("invalid_client", {}, checked=True),
        *rotation_alerts(NOW + timedelta(days=10), NOW, {}),
        secret_rotated_alert(NOW, NOW + timedelta(days=180), requested=True, proven_with="a"),
        rotation_failed_alert("lost", NOW, NOW + timedelta(days=7)),
        invitation_alert("acme-us", "na", "A1", 7, renewed=False),
    ]


def test_the_code_announces_every_kind_but_the_digest() -> None:
    assert {a.kind for a in every_alert()} == set(KINDS) - {alert_kinds.DIGEST}


def test_one_message_groups_an_alert_of_every_kind() -> None:
    alerts = every_alert()
    title, body = compose(alerts)
    assert title == (
        "soldscope: 13 changes (1 app rejected, 1 in error, 1 expired, 1 expiring soon, "
        "1 invitation used, 1 about to lose data, 1 not authorized, 1 recovered, 1 rotation due, "
        "1 rotation failed, 1 client secret rotated, 1 stale, 1 sync failed)"
    )
    assert body.split("\n\n")[-1] == (
        "acme-us (na): connected through its invitation link\n"
        "seller A1 authorized the app\n"
        "Run: soldscope list acme-us"
    )


def test_a_grouped_title_counts_every_registered_kind() -> None:
    alerts = [Alert(kind, "acme-us", f"{kind.name} news", "detail", None, "c") for kind in KINDS]
    title, _ = compose([*alerts, alerts[0]])
    by_name = sorted(KINDS, key=lambda kind: kind.name)
    counts = ", ".join(f"{2 if kind is KINDS[0] else 1} {kind.label}" for kind in by_name)
    assert title == f"soldscope: {len(KINDS) + 1} changes ({counts})"


def test_a_target_may_choose_every_kind_and_the_error_lists_them() -> None:
    path = Path("/home/x/config.toml")
    events = ", ".join(f'"{name}"' for name in NAMES)
    [target] = parse_config(path, f'[[notify]]\nurl = "json://a/b"\nevents = [{events}]\n').notify
    assert target.events == NAMES
    with pytest.raises(ConfigError) as caught:
        parse_config(path, '[[notify]]\nurl = "json://a/b"\nevents = ["broken"]\n')
    assert f"unknown event 'broken'; use {', '.join(NAMES)}" in str(caught.value)


def test_every_digest_section_is_a_part_of_the_digest() -> None:
    keys = digest_json(build_digest([], [], None, NOW)).keys()
    sections = {kind.digest for kind in KINDS if kind.digest is not None}
    assert sections == set(DigestSection)
    assert {section.value for section in sections} <= keys


def docs_table() -> list[str]:
    """docs/alerts.md's table of events, as the registry says it."""
    lines = [
        "| event | counted in a title as | severity | command | in `digest --json` | without `events` |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind in KINDS:
        fix = kind.command(store="STORE", dataset="DATASET")
        lines.append(
            f"| `{kind.name}` | {kind.label} | {kind.severity} | "
            f"{'—' if fix is None else f'`{fix}`'} | "
            f"{'—' if kind.digest is None else f'`{kind.digest}`'} | "
            f"{'yes' if kind.default else 'no'} |"
        )
    return lines


def test_the_docs_list_every_kind_as_the_registry_does() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert "\n".join(docs_table()) in text, "\n" + "\n".join(docs_table())
