"""The rotation's pure parts: [rotation] in config.toml, Amazon's messages, the state and doctor's
judgement of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soldscope_cli.doctor.model import Level, RotationFacts
from soldscope_cli.doctor.rotation import check_rotation
from soldscope_cli.errors import ConfigError
from soldscope_cli.fleet.config import ConfigFile, dump_config, parse_config
from soldscope_cli.redact import redact
from soldscope_cli.rotation.messages import NewSecret, SecretExpiry, parse_notification
from soldscope_cli.rotation.queue import region_of
from soldscope_cli.rotation.state import rotation_state

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/soldscope-rotation"


# --- config.toml ---------------------------------------------------------------------------------


def test_rotation_table_round_trips_and_keeps_comments(tmp_path: Path) -> None:
    text = f'# ours\n[rotation]\nqueue_url = "{QUEUE}"  # the queue\ndays_before = 20\n'
    config = parse_config(Path("c.toml"), text)
    assert (config.rotation.queue_url, config.rotation.days_before) == (QUEUE, 20)
    assert parse_config(Path("c.toml"), dump_config(config)) == config
    assert parse_config(Path("c.toml"), "").rotation.days_before == 30
    path = tmp_path / "config.toml"
    path.write_text(text)
    with ConfigFile(path, tmp_path / ".lock").edit() as edited:
        edited.app.client_secret_set_at = NOW
    written = path.read_text()
    assert "# the queue" in written and "# ours" in written and "days_before = 20" in written


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ('queue_url = "soldscope-rotation"', "queue_url must be an SQS queue URL"),
        ("queue_url = 3", "queue_url must be an SQS queue URL"),
        ("days_before = 0", "days_before must be a whole number of days between 1 and 170"),
        ("days_before = 171", "days_before must be"),
        ("days_before = true", "days_before must be"),
        ("wait = 3", "unknown key 'wait' in [rotation]"),
    ],
)
def test_bad_rotation_values_name_their_line(body: str, complaint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(Path("c.toml"), f"[rotation]\n{body}\n")
    assert complaint in caught.value.message
    assert "line 2" in caught.value.message


@pytest.mark.parametrize(
    ("url", "region"),
    [
        (QUEUE, "eu-west-1"),
        ("https://us-east-2.queue.amazonaws.com/1/q", "us-east-2"),
        ("http://127.0.0.1:5000/123456789012/q", None),
    ],
)
def test_the_region_comes_from_the_queue_url(url: str, region: str | None) -> None:
    assert region_of(url) == region


# --- Amazon's messages ---------------------------------------------------------------------------


def _new_secret(secret: str, *, capital: bool = False) -> dict[str, Any]:
    payload = "Payload" if capital else "payload"
    return {
        "NotificationType" if capital else "notificationType": (
            "APPLICATION_OAUTH_CLIENT_NEW_SECRET"
        ),
        payload: {
            "applicationOAuthClientNewSecret": {
                "clientId": "amzn1.application-oa2-client.x",
                "newClientSecret": secret,
                "newClientSecretExpiryTime": "2026-11-28T12:00:00Z",
                "oldClientSecretExpiryTime": "2026-06-08T12:00:00Z",
            }
        },
        "notificationMetadata": {"notificationId": "n-1"},
    }


@pytest.mark.parametrize("capital", [False, True], ids=["payload", "Payload"])
def test_a_new_secret_is_read_in_either_casing_and_redacted_at_once(capital: bool) -> None:
    # Without Amazon's prefix, only the registration can take it out of a text.
    secret = f"rules-secret-{capital}-abcdefgh"
    assert secret in redact(f"before: {secret}")
    parsed = parse_notification(json.dumps(_new_secret(secret, capital=capital)))
    assert isinstance(parsed, NewSecret)
    assert parsed.secret == secret and parsed.notification_id == "n-1"
    assert parsed.expires_at == datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert parsed.old_expires_at == datetime(2026, 6, 8, 12, tzinfo=UTC)
    assert secret not in repr(parsed)
    assert secret not in redact(f"the secret is {secret}")


def test_a_notification_through_an_sns_topic_is_unwrapped() -> None:
    wrapped = {"Type": "Notification", "Message": json.dumps(_new_secret("sns-secret-0001"))}
    assert isinstance(parse_notification(json.dumps(wrapped)), NewSecret)


def test_an_expiry_notice_is_read() -> None:
    body = {
        "notificationType": "APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY",
        "payload": {
            "applicationOAuthClientSecretExpiry": {
                "clientId": "amzn1.application-oa2-client.x",
                "clientSecretExpiryTime": "2026-07-01T00:00:00Z",
                "clientSecretExpiryReason": "PERIODIC_ROTATION",
            }
        },
    }
    parsed = parse_notification(json.dumps(body))
    assert parsed == SecretExpiry(
        "amzn1.application-oa2-client.x",
        datetime(2026, 7, 1, tzinfo=UTC),
        "PERIODIC_ROTATION",
        None,
    )


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"notificationType": "ANY_OFFER_CHANGED", "payload": {}}),
        json.dumps({"notificationType": "APPLICATION_OAUTH_CLIENT_NEW_SECRET", "payload": {}}),
    ],
)
def test_anything_else_is_not_a_rotation_message(body: str) -> None:
    assert parse_notification(body) is None


@pytest.mark.parametrize(
    "client_id",
    [
        "amzn1.application-oa2-client.x\n",
        "amzn1.application-oa2-client.x\x1b[0m",
        " amzn1.application-oa2-client.x",
        "amzn1.application-oa2-client.\x00x",
    ],
    ids=["newline", "escape", "space", "nul"],
)
def test_a_client_id_that_is_not_one_is_nobodys(client_id: str) -> None:
    # Made printable it would read as this app's id: the message must stay another app's.
    body = _new_secret("foreign-secret-0001")
    body["payload"]["applicationOAuthClientNewSecret"]["clientId"] = client_id
    assert parse_notification(json.dumps(body)) is None
    notice = {
        "notificationType": "APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY",
        "payload": {"applicationOAuthClientSecretExpiry": {"clientId": client_id}},
    }
    assert parse_notification(json.dumps(notice)) is None


# --- the state and doctor's line -----------------------------------------------------------------

Events = dict[str, tuple[datetime, dict[str, Any]]]


def state(set_at: datetime | None, events: Events, *, pending: bool = False) -> Any:
    return rotation_state(set_at, events, queue_url=QUEUE, days_before=30, pending_secret=pending)


def test_amazons_expiry_wins_over_the_rule() -> None:
    set_at = NOW - timedelta(days=10)
    rotated = {"secret_rotated": (set_at, {"expires_at": "2026-11-15T00:00:00+00:00"})}
    assert state(set_at, {}).expiry_source == "rule"
    assert state(set_at, {}).expires_at == set_at + timedelta(days=180)
    found = state(set_at, rotated)
    assert (found.expiry_source, found.expires_at) == ("amazon", datetime(2026, 11, 15, tzinfo=UTC))
    # A secret set by hand after that rotation: the rule again.
    assert state(NOW, rotated).expiry_source == "rule"


def test_an_unresolved_rotation_is_a_problem_until_a_secret_is_set() -> None:
    set_at = NOW - timedelta(days=100)
    deadline = "2026-06-08T12:00:00+00:00"
    events: Events = {
        "rotation_requested": (NOW, {"deadline": deadline}),
        "rotation_failed": (NOW, {"reason": "lost", "deadline": deadline}),
    }
    lost = state(set_at, events)
    assert (lost.problem, lost.pending) == ("lost", "message")
    assert lost.deadline == datetime(2026, 6, 8, 12, tzinfo=UTC)
    line = check_rotation(RotationFacts(lost), NOW, offline=True)[0]
    assert line.status is Level.FAIL and "2026-06-08T12:00:00Z" in line.detail
    resolved = state(NOW + timedelta(minutes=1), events)  # `app set` after the failure
    assert resolved.problem is None


@pytest.mark.parametrize(
    ("days_since_set", "confirmed", "level", "words"),
    [
        (10, True, Level.OK, "enrolled"),
        (10, False, Level.WARN, "enrollment not confirmed yet"),
        (160, True, Level.WARN, "due: within 30 days of expiry"),
    ],
)
def test_doctor_judges_days_left_and_enrollment(
    days_since_set: int, confirmed: bool, level: Level, words: str
) -> None:
    found = state(NOW - timedelta(days=days_since_set), {})
    facts = RotationFacts(found, queue_messages=0, confirmed_at=NOW if confirmed else None)
    [line] = check_rotation(facts, NOW, offline=False)
    assert line.status is level and words in line.detail, line
    assert f"({180 - days_since_set} days left)" in line.detail


def test_doctor_says_nothing_without_a_queue() -> None:
    quiet = rotation_state(None, {}, queue_url=None, days_before=30, pending_secret=False)
    assert check_rotation(RotationFacts(quiet), NOW, offline=False) == []
