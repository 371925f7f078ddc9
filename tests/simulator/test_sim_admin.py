"""The /_admin API over HTTP, scenario files and the Python mirror of the admin routes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w

from soldscope_cli.errors import ConfigError
from soldscope_cli.simulator import (
    ManualClock,
    Scenario,
    ScenarioError,
    Simulator,
    demo_scenario,
    load_scenario,
    parse_scenario,
)
from soldscope_cli.simulator.admin import routes
from tests.prerequisites import require

from .support import (
    CLIENT_ID,
    EU_SELLER,
    NA_SELLER,
    REDIRECT,
    access_token,
    auth,
    lwa_form,
    scenario_data,
)

PARTICIPATIONS = "/sellers/v1/marketplaceParticipations"
NEW_SELLER = {"selling_partner_id": "A9NEWFE000009", "region": "fe", "marketplaces": ["JP"]}


def test_health_scenario_and_reset(sim: Simulator, client: httpx.Client) -> None:
    health = client.get("/_admin/health")
    assert health.json()["ok"] is True
    assert health.headers["x-amzn-RequestId"]
    scenario = client.get("/_admin/scenario").json()
    assert scenario == parse_scenario(scenario_data()).to_dict()
    client.post("/_admin/sellers", json=NEW_SELLER)
    assert len(client.get("/_admin/sellers").json()) == 3
    assert client.post("/_admin/reset").json() == {"ok": True}
    assert len(client.get("/_admin/sellers").json()) == 2


def test_put_scenario_replaces_everything(sim: Simulator, client: httpx.Client) -> None:
    old_token = access_token(sim, client)
    data = scenario_data(sellers=[NEW_SELLER])
    response = client.put("/_admin/scenario", json=data)
    assert response.status_code == 200
    assert [s["selling_partner_id"] for s in response.json()["sellers"]] == [
        NEW_SELLER["selling_partner_id"]
    ]
    assert client.get(PARTICIPATIONS, headers=auth(old_token)).status_code == 403
    bad = client.put("/_admin/scenario", json={"sellers": [{"region": "na"}]})
    assert bad.status_code == 400
    assert "selling_partner_id" in bad.json()["error"]


def test_seller_routes(sim: Simulator, client: httpx.Client) -> None:
    created = client.post("/_admin/sellers", json=NEW_SELLER)
    assert created.status_code == 201
    assert created.json()["store_name"] == "Store A9NEWFE000009"
    assert created.json()["marketplaces"] == ["JP"]
    assert client.post("/_admin/sellers", json=NEW_SELLER).status_code == 400
    one = client.get(f"/_admin/sellers/{NA_SELLER}").json()
    assert one["marketplaces"] == ["US", "CA"]
    patched = client.patch(
        f"/_admin/sellers/{NA_SELLER}", json={"store_name": "Renamed", "inventory_items": 5}
    )
    assert (patched.json()["store_name"], patched.json()["inventory_items"]) == ("Renamed", 5)
    assert client.patch(f"/_admin/sellers/{NA_SELLER}", json={"region": "eu"}).status_code == 400
    assert (
        client.patch(f"/_admin/sellers/{NA_SELLER}", json={"marketplaces": ["DE"]}).status_code
        == 400
    )
    assert client.delete("/_admin/sellers/A9NEWFE000009").json() == {"ok": True}
    assert client.get("/_admin/sellers/A9NEWFE000009").status_code == 404


def test_authorize_route_gives_a_working_refresh_token(client: httpx.Client) -> None:
    response = client.post(f"/_admin/sellers/{EU_SELLER}/authorize")
    assert response.status_code == 200
    body = response.json()
    assert body["selling_partner_id"] == EU_SELLER
    token = client.post(
        "/auth/o2/token",
        data=lwa_form(grant_type="refresh_token", refresh_token=body["refresh_token"]),
    )
    access = token.json()["access_token"]
    payload = client.get(PARTICIPATIONS, headers=auth(access)).json()["payload"]
    assert [p["storeName"] for p in payload] == ["Test Europe"]
    assert client.post("/_admin/sellers/ANOBODY/authorize").status_code == 404


def test_revoke_role_and_marketplace_routes(client: httpx.Client, sim: Simulator) -> None:
    token = access_token(sim, client)
    dropped = client.delete(f"/_admin/sellers/{NA_SELLER}/marketplaces/CA").json()
    assert dropped["marketplaces"] == ["US"]
    assert client.delete(f"/_admin/sellers/{NA_SELLER}/marketplaces/CA").status_code == 400
    assert client.put(f"/_admin/sellers/{NA_SELLER}/marketplaces/ca").json()["marketplaces"] == [
        "US",
        "CA",
    ]
    roles = client.delete(f"/_admin/sellers/{NA_SELLER}/roles/sellers").json()["roles"]
    assert "sellers" not in roles
    assert client.get(PARTICIPATIONS, headers=auth(token)).status_code == 403
    assert "sellers" in client.put(f"/_admin/sellers/{NA_SELLER}/roles/sellers").json()["roles"]
    assert client.put(f"/_admin/sellers/{NA_SELLER}/roles/admin").status_code == 400
    assert client.post(f"/_admin/sellers/{NA_SELLER}/revoke").json() == {"revoked": 1}
    assert client.get(PARTICIPATIONS, headers=auth(token)).status_code == 403


def test_app_routes(client: httpx.Client, sim: Simulator) -> None:
    refresh = sim.authorize(NA_SELLER)
    form = lwa_form(grant_type="refresh_token", refresh_token=refresh)
    assert client.get("/_admin/app").json()["client_id"] == CLIENT_ID
    patched = client.patch("/_admin/app", json={"draft": True, "redirect_uris": [REDIRECT]})
    assert patched.json()["draft"] is True
    rotated = client.post("/_admin/app/rotate-secret", json={"grace_seconds": 0}).json()
    assert rotated["client_secret"] != form["client_secret"]
    sim.advance_clock(1)
    assert client.post("/auth/o2/token", data=form).status_code == 401
    form["client_secret"] = rotated["client_secret"]
    assert client.post("/auth/o2/token", data=form).status_code == 200
    assert client.post("/_admin/app/expire-secret").json() == {"ok": True}
    assert client.post("/auth/o2/token", data=form).status_code == 401
    chosen = client.post("/_admin/app/rotate-secret", json={"client_secret": "mine"}).json()
    assert chosen == {"client_secret": "mine"}
    assert client.post("/_admin/app/rotate-secret", json={"grace_seconds": -1}).status_code == 400


@pytest.mark.parametrize(
    ("path", "change", "key", "value"),
    [
        ("consent", {"auto_confirm": True}, "auto_confirm", True),
        ("consent", {"signed_in_seller": EU_SELLER}, "signed_in_seller", EU_SELLER),
        (
            "latency",
            {"default_ms": 5, "by_prefix": {"/reports": 10}},
            "by_prefix",
            {"/reports": 10.0},
        ),
        ("rate-limits", {"enabled": True, "scale": 2}, "scale", 2.0),
        (
            "reports",
            {"polls_in_queue": 3, "outcomes": {"FEE_DISCOUNTS_REPORT": "FATAL"}},
            "polls_in_queue",
            3,
        ),
    ],
)
def test_settings_sections(
    client: httpx.Client, path: str, change: dict[str, Any], key: str, value: Any
) -> None:
    before = client.get(f"/_admin/{path}").json()
    after = client.put(f"/_admin/{path}", json=change)
    assert after.status_code == 200
    assert after.json()[key] == value
    assert client.get(f"/_admin/{path}").json() == after.json()
    untouched = {k: v for k, v in before.items() if k not in change}
    assert {k: after.json()[k] for k in untouched} == untouched


@pytest.mark.parametrize(
    ("path", "change"),
    [
        ("consent", {"signed_in_seller": "ANOBODY"}),
        ("consent", {"auto_confirm": "yes"}),
        ("latency", {"default_ms": -1}),
        ("rate-limits", {"scale": 0}),
        ("reports", {"outcomes": {"X": "MAYBE"}}),
        ("reports", {"polls": 3}),
    ],
)
def test_settings_reject_bad_values(
    client: httpx.Client, path: str, change: dict[str, Any]
) -> None:
    response = client.put(f"/_admin/{path}", json=change)
    assert response.status_code in (400, 404)
    assert response.json()["error"]


def test_failure_routes(client: httpx.Client, sim: Simulator) -> None:
    rule = {"status": 503, "count": 2, "path_prefix": "/sellers", "retry_after": "1"}
    created = client.post("/_admin/failures", json=rule)
    assert created.status_code == 201
    assert created.json()["id"] >= 1
    forever = client.post("/_admin/failures", json={"status": 500, "count": None}).json()
    assert forever["count"] is None
    assert len(client.get("/_admin/failures").json()) == 2
    assert client.post("/_admin/failures", json={"status": 99}).status_code == 400
    assert client.delete("/_admin/failures").json() == {"ok": True}
    assert client.get("/_admin/failures").json() == []


def test_counter_and_clock_routes(client: httpx.Client, clock: ManualClock) -> None:
    client.get(PARTICIPATIONS)
    assert client.get("/_admin/counters").json()["by_path"] == {PARTICIPATIONS: 1}
    assert client.delete("/_admin/counters").json() == {"ok": True}
    assert client.get("/_admin/counters").json()["total"] == 0
    now = client.get("/_admin/clock").json()
    assert now["now"] == "2026-03-04T12:00:00Z"
    advanced = client.post("/_admin/clock/advance", json={"seconds": 90}).json()
    assert advanced["now"] == "2026-03-04T12:01:30Z"
    assert client.post("/_admin/clock/advance", json={"seconds": -5}).status_code == 400
    assert client.post("/_admin/clock/advance", json={"seconds": "x"}).status_code == 400


def test_admin_errors(client: httpx.Client) -> None:
    assert client.get("/_admin/nothing").status_code == 404
    assert client.delete("/_admin/clock").status_code == 405
    bad_json = client.post(
        "/_admin/sellers", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert client.post("/_admin/sellers", json=[1, 2]).status_code == 400


def test_every_admin_route_is_documented() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
    require(doc.exists(), "docs/simulator.md is not in this copy of the sources")
    text = doc.read_text(encoding="utf-8")
    for method, path in routes():
        assert f"{method} {path}" in text, f"{method} {path} missing from docs/simulator.md"


# --- scenario files --------------------------------------------------------------------------------


def test_toml_and_json_files_load_the_same(tmp_path: Path) -> None:
    data = scenario_data(
        failures=[{"status": 503, "count": 0, "path_prefix": "/sellers"}],
        data={"anchor": "2026-01-01T00:00:00Z", "history_days": 30},
    )
    toml_file = tmp_path / "s.toml"
    toml_file.write_text(tomli_w.dumps(data), encoding="utf-8")
    json_file = tmp_path / "s.json"
    json_file.write_text(json.dumps(data), encoding="utf-8")
    other = tmp_path / "scenario.conf"
    other.write_text(tomli_w.dumps(data), encoding="utf-8")
    from_toml = load_scenario(toml_file)
    assert from_toml == load_scenario(json_file) == load_scenario(other)
    assert from_toml.failures[0].count is None
    # What the admin API prints can be saved and loaded again.
    assert parse_scenario(from_toml.to_dict()) == from_toml
    assert tomli_w.dumps(from_toml.to_dict())


def test_demo_round_trips_and_spans_regions() -> None:
    demo = demo_scenario()
    assert parse_scenario(demo.to_dict()) == demo
    assert {s.region for s in demo.sellers} == {"na", "eu", "fe"}
    assert len(demo.sellers) == 7


@pytest.mark.parametrize(
    ("content", "suffix", "needle"),
    [
        ("app = [", ".toml", "not valid TOML"),
        ("{", ".json", "not valid JSON"),
        ('[[sellers]]\nregion = "na"\n', ".toml", "sellers[0].selling_partner_id is required"),
        (
            '[[sellers]]\nselling_partner_id = "A"\nregion = "mars"\nmarketplaces = ["US"]\n',
            ".toml",
            "sellers[0].region",
        ),
        (
            '[[sellers]]\nselling_partner_id = "A"\nregion = "na"\nmarketplaces = ["DE"]\n',
            ".toml",
            "DE is not in region na",
        ),
        (
            '[[sellers]]\nselling_partner_id = "A"\nregion = "na"\nmarketplaces = ["XX"]\n',
            ".toml",
            "'XX' is not a marketplace code",
        ),
        (
            '[[sellers]]\nselling_partner_id = "A"\nregion = "na"\nmarketplaces = ["US"]\nroles = ["x"]\n',
            ".toml",
            "unknown role",
        ),
        (
            '[[sellers]]\nselling_partner_id = "A"\nregion = "na"\nmarketplaces = []\n',
            ".toml",
            "at least one marketplace",
        ),
        ('[app]\ndraft = "yes"\n', ".toml", "app.draft must be true or false"),
        ('[app]\ncolour = "red"\n', ".toml", "unknown key app.colour"),
        ("[latency]\ndefault_ms = true\n", ".toml", "latency.default_ms must be a number"),
        ('[consent]\nsigned_in_seller = "ZZ"\n', ".toml", "ZZ is not a seller"),
        ('[data]\nanchor = "someday"\n', ".toml", "data.anchor"),
        ("[[failures]]\nstatus = 42\n", ".toml", "failures[0].status"),
    ],
)
def test_bad_scenario_files_give_one_line_errors(
    tmp_path: Path, content: str, suffix: str, needle: str
) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert isinstance(caught.value, ConfigError)
    assert needle in caught.value.message
    assert str(path) in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.hint


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario file"):
        load_scenario(tmp_path / "absent.toml")


def test_duplicate_sellers_are_refused() -> None:
    data = scenario_data()
    data["sellers"].append(dict(data["sellers"][0]))
    with pytest.raises(ScenarioError, match="duplicate"):
        parse_scenario(data)


def test_scenario_refresh_tokens_work_from_the_start(clock: ManualClock) -> None:
    data = scenario_data()
    data["sellers"][0]["refresh_tokens"] = ["Atzr|ci-known-token"]
    with (
        Simulator(parse_scenario(data), clock=clock) as sim,
        httpx.Client(base_url=sim.url) as http,
    ):
        response = http.post(
            "/auth/o2/token",
            data=lwa_form(grant_type="refresh_token", refresh_token="Atzr|ci-known-token"),
        )
        assert response.status_code == 200


def test_python_mirror_before_start() -> None:
    sim = Simulator(Scenario())
    assert not sim.running
    with pytest.raises(RuntimeError):
        _ = sim.url
    sim.add_seller(NEW_SELLER)
    assert sim.seller(NEW_SELLER["selling_partner_id"])["region"] == "fe"
    with sim:
        assert sim.env() == {
            "SOLDSCOPE_LWA_URL": sim.url + "/auth/o2/token",
            "SOLDSCOPE_SPAPI_URL": sim.url,
            "SOLDSCOPE_SELLER_CENTRAL_URL": sim.url,
        }
        assert sim.consent_url(beta=True).startswith(sim.url + "/apps/authorize/consent?")
    assert not sim.running
    sim.stop()  # stopping twice is harmless


def test_manual_clock() -> None:
    clock = ManualClock(100)
    clock.advance(5)
    clock.sleep(2.5)
    assert clock() == 107.5
    assert clock.sleeps == [2.5]
    clock.set(0)
    assert clock() == 0


def test_documented_scenario_example_loads(tmp_path: Path) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
    require(doc.exists(), "docs/simulator.md is not in this copy of the sources")
    text = doc.read_text(encoding="utf-8")
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.toml"
    path.write_text(example, encoding="utf-8")
    scenario = load_scenario(path)
    assert [s.selling_partner_id for s in scenario.sellers] == ["A1ACMEUS000001", "A2ACMEDE000002"]
    assert scenario.failures[1].retry_after == "2"
