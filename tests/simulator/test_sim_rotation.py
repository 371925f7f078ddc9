"""rotateApplicationClientSecret as Amazon serves it, and the SQS messages it sends."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from soldscope_cli.simulator import ManualClock, Simulator
from soldscope_cli.simulator.rotation import NOT_ENROLLED, SCOPE
from tests.sqs import Sqs, moto_sqs

from .support import CLIENT_ID, CLIENT_SECRET, access_token, auth, lwa_form
from .test_conformance import assert_conforms, model

PATH = "/applications/2023-11-30/clientSecret"
OPERATION = "rotateApplicationClientSecret"


@pytest.fixture(scope="module")
def sqs() -> Iterator[Sqs]:
    with moto_sqs() as emulator:
        yield emulator


def grantless(client: httpx.Client, scope: str = SCOPE, secret: str = CLIENT_SECRET) -> str:
    response = client.post(
        "/auth/o2/token",
        data={"client_id": CLIENT_ID, "client_secret": secret, "grant_type": "client_credentials",
              "scope": scope},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def rotate(client: httpx.Client, token: str) -> httpx.Response:
    return client.post(PATH, headers=auth(token))


def refresh_works(sim: Simulator, client: httpx.Client, secret: str) -> bool:
    refresh = sim.authorize("A1TESTNA00001")
    form = {**lwa_form(grant_type="refresh_token", refresh_token=refresh), "client_secret": secret}
    return client.post("/auth/o2/token", data=form).status_code == 200


def test_not_enrolled_is_amazons_400(sim: Simulator, client: httpx.Client) -> None:
    response = rotate(client, grantless(client))
    assert response.status_code == 400
    assert_conforms(OPERATION, response)
    example = model("application_2023-11-30.json")["paths"][PATH]["post"]["responses"]["400"]
    assert response.json()["errors"][0]["message"] == NOT_ENROLLED
    expected = example["x-amzn-api-sandbox"]["static"][0]["response"]["errors"][0]
    assert {k: response.json()["errors"][0][k] for k in ("code", "message")} == expected
    assert refresh_works(sim, client, CLIENT_SECRET)  # nothing rotated


@pytest.mark.parametrize(
    "token",
    [lambda s, c: "", lambda s, c: access_token(s, c), lambda s, c: grantless(c, "sellingpartnerapi::notifications")],
    ids=["no token", "a seller's token", "another grantless scope"],
)  # fmt: skip
def test_only_a_rotation_scoped_grantless_token_is_accepted(
    sim: Simulator, client: httpx.Client, sqs: Sqs, token: object
) -> None:
    sim.set_rotation_queue(sqs.create_queue("refused"))
    response = rotate(client, token(sim, client))  # type: ignore[operator]
    assert response.status_code == 403
    assert_conforms(OPERATION, response)
    assert sqs.bodies(sqs.create_queue("refused")) == []


def test_rotation_sends_the_new_secret_and_keeps_the_old_seven_days(
    sim: Simulator, client: httpx.Client, clock: ManualClock, sqs: Sqs
) -> None:
    queue = sqs.create_queue("delivered")
    sim.set_rotation_queue(queue)
    response = rotate(client, grantless(client))
    assert response.status_code == 204
    assert_conforms(OPERATION, response)
    [message] = sqs.bodies(queue)
    assert message["notificationType"] == "APPLICATION_OAUTH_CLIENT_NEW_SECRET"
    assert message["payloadVersion"] == "2023-11-30"
    assert set(message["notificationMetadata"]) == {
        "applicationId", "subscriptionId", "publishTime", "notificationId"
    }  # fmt: skip
    body = message["payload"]["applicationOAuthClientNewSecret"]
    assert body["clientId"] == CLIENT_ID
    assert body["newClientSecret"] != CLIENT_SECRET
    assert body["oldClientSecretExpiryTime"] == "2026-03-11T12:00:00Z"  # 7 days after the clock
    assert body["newClientSecretExpiryTime"] == "2026-08-31T12:00:00Z"  # 180 days
    assert refresh_works(sim, client, body["newClientSecret"])
    clock.advance(7 * 86400 - 60)
    assert refresh_works(sim, client, CLIENT_SECRET)
    clock.advance(120)
    assert not refresh_works(sim, client, CLIENT_SECRET)
    assert refresh_works(sim, client, body["newClientSecret"])


def test_rotation_is_limited_to_one_a_minute(
    sim: Simulator, client: httpx.Client, clock: ManualClock, sqs: Sqs
) -> None:
    sim.set_rate_limits(enabled=True)
    sim.set_rotation_queue(sqs.create_queue("limited"))
    token = grantless(client)
    assert rotate(client, token).status_code == 204
    throttled = rotate(client, token)
    assert throttled.status_code == 429
    assert_conforms(OPERATION, throttled)
    clock.advance(60)
    assert rotate(client, token).status_code == 204


def test_expiry_notice_and_portal_rotation_reach_the_queue(
    sim: Simulator, client: httpx.Client, sqs: Sqs
) -> None:
    queue = sqs.create_queue("notices")
    admin = client.put("/_admin/app/rotation", json={"queue_url": queue})
    assert admin.json() == {"queue_url": queue, "deliver": True, "sent": 0, "failed": 0}
    assert client.post("/_admin/app/secret-expiry-notice", json={}).status_code == 200
    new = client.post("/_admin/app/rotate-secret", json={}).json()["client_secret"]
    messages = sqs.bodies(queue)
    by_type = {m["notificationType"]: m["payload"] for m in messages}
    assert by_type["APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY"] == {
        "applicationOAuthClientSecretExpiry": {
            "clientId": CLIENT_ID,
            "clientSecretExpiryTime": "2026-08-31T12:00:00Z",
            "clientSecretExpiryReason": "PERIODIC_ROTATION",
        }
    }
    secret = by_type["APPLICATION_OAUTH_CLIENT_NEW_SECRET"]["applicationOAuthClientNewSecret"]
    assert secret["newClientSecret"] == new
    assert client.get("/_admin/app/rotation").json()["sent"] == 2


def test_a_lost_message_still_rotates(sim: Simulator, client: httpx.Client, sqs: Sqs) -> None:
    queue = sqs.create_queue("lost")
    sim.set_rotation_queue(queue, deliver=False)
    assert rotate(client, grantless(client)).status_code == 204
    assert sqs.bodies(queue) == []
    assert sim.rotation_settings().failed == 1
    assert sim.scenario.app.client_secret != CLIENT_SECRET


def test_bad_admin_bodies_are_refused(client: httpx.Client) -> None:
    assert client.put("/_admin/app/rotation", json={"queue_url": 3}).status_code == 400
    assert client.put("/_admin/app/rotation", json={"deliver": "yes"}).status_code == 400
    assert client.post("/_admin/app/secret-expiry-notice", json={}).status_code == 400
