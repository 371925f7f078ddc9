"""Every command a failure's hint tells the user to run parses as printed.

The hints of the main failure paths are collected, the `soldscope …` commands are cut out of them,
and each runs through the real CLI parser with --help appended: an unknown option, a missing
argument or a dropped flag fails here instead of on the user's terminal.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime

import httpx
import pytest
from typer.testing import CliRunner

from soldscope_cli.amazon.marketplaces import BY_CODE
from soldscope_cli.amazon.spapi import SpapiResponse
from soldscope_cli.checks.live import check_store
from soldscope_cli.checks.result import APP_REJECTED_MESSAGE, reconnect_hint
from soldscope_cli.cli import app
from soldscope_cli.commands.app_cmd import INSECURE_WARNING
from soldscope_cli.consent.listener import ConsentDenied, ConsentTimeout, parse_callback
from soldscope_cli.doctor.secret_probe import FILE_FIX
from soldscope_cli.errors import SoldscopeError
from soldscope_cli.fleet.config import Config, StoreRecord
from soldscope_cli.fleet.team_import import import_retry
from soldscope_cli.onboarding.consent_flow import Target, plan_target

NOW = datetime(2026, 3, 1, tzinfo=UTC)
# A command in backticks, or an unquoted `soldscope <command> …` up to the end of its clause.
QUOTED = re.compile(r"`([^`]*\bsoldscope [^`]+)`")
BARE = re.compile(
    r"(?<![`\w])soldscope (?:connect|validate|app|list|doctor|sync|secrets|team)\b[^`(),;]*"
)


def commands(text: str) -> list[list[str]]:
    """The soldscope commands in a hint, as argument lists after `soldscope`."""
    found = [m.group(1) for m in QUOTED.finditer(text)]
    found += [m.group(0) for m in BARE.finditer(QUOTED.sub("", text))]
    result = []
    for command in found:
        words = shlex.split(command.split("|")[-1])  # `pbpaste | soldscope …`: the soldscope part
        assert words[0] == "soldscope", command
        result.append(words[1:])
    return result


def record(**kw: object) -> StoreRecord:
    base: dict[str, object] = {
        "name": "acme-x",
        "region": "na",
        "marketplaces": ["US", "CA"],
        "authorized_at": NOW,
        "selling_partner_id": "A1SELLER",
    }
    return StoreRecord(**{**base, **kw})  # type: ignore[arg-type]


class _Api:
    def __init__(self, codes: list[str]) -> None:
        self.codes = codes

    def request(self, method: str, path: str, *, operation: str) -> SpapiResponse:
        payload = [
            {
                "marketplace": {"id": BY_CODE[code].marketplace_id},
                "participation": {"isParticipating": True},
            }
            for code in self.codes
        ]
        return SpapiResponse(200, {"payload": payload}, "req-1", httpx.Headers())


class _Lwa:
    def access_token(self, refresh_token: str) -> str:
        return "Atza|x"


class Sells:
    """Fake clients of a seller who participates only in `codes`."""

    def __init__(self, codes: list[str]) -> None:
        self.api = _Api(codes)
        self.lwa = _Lwa()

    def spapi_for(self, record: StoreRecord, refresh_token: str) -> _Api:
        return self.api


def hint_of(call: object) -> str:
    assert callable(call)
    with pytest.raises(SoldscopeError) as caught:
        call()
    return caught.value.hint or ""


def new_store_targets() -> list[Target]:
    config = Config()
    return [
        plan_target(config, "acme-x", ["US", "CA"], None),
        plan_target(config, "acme-x", [], "eu"),
    ]


def collected_hints() -> list[str]:
    hints: list[str] = []
    for target in new_store_targets():
        args = target.connect_args
        hints.append(ConsentTimeout(300, 0, connect_args=args).hint or "")
        hints.append(ConsentDenied("access_denied", connect_args=args).hint or "")
        hints.append(hint_of(lambda a=args: parse_callback("?state=s", "s", connect_args=a)))
    hints.append(hint_of(lambda: plan_target(Config(), "acme-x", [], None)))
    hints.append(hint_of(lambda: plan_target(Config(), "acme-x", ["US"], "na")))
    for rec in (
        record(),
        record(self_authorized=True),
        record(region_wide=True),
        record(region_wide=True, self_authorized=True),
    ):
        check = check_store(rec, "Atzr|x", Sells(["US"]))
        assert check.code == "marketplace_mismatch"
        hints.append(check.hint or "")
        hints.append(reconnect_hint(rec))
    hints.append(APP_REJECTED_MESSAGE)
    # Secret backends: doctor's advice for the file backend, and `team import` when the home's
    # default backend cannot be read (never "set SOLDSCOPE_SECRETS=file": it names the team's).
    hints.append(FILE_FIX)
    hints.append(INSECURE_WARNING)
    for env in ({}, {"SOLDSCOPE_SECRETS": "file"}, {"SOLDSCOPE_SECRETS": "command"}):
        for configured in (None, "file", "keyring"):
            for skip, dry in ((False, False), (True, True)):
                hints.append(f"`{import_retry(env, configured, skip, dry)}`")
    return hints


def test_a_new_store_is_retried_with_its_marketplaces_or_region() -> None:
    by_marketplace, by_region = (t.connect_args for t in new_store_targets())
    assert by_marketplace == "acme-x --marketplace US --marketplace CA"
    assert by_region == "acme-x --region eu"
    hint = ConsentTimeout(300, 0, connect_args=by_marketplace).hint or ""
    assert "`soldscope connect acme-x --marketplace US --marketplace CA` again" in hint


def test_a_renewal_that_keeps_its_marketplaces_needs_only_the_name() -> None:
    config = Config(stores={"acme-x": record()})
    assert plan_target(config, "acme-x", [], None).connect_args == "acme-x"
    assert plan_target(config, "acme-x", ["US"], None).connect_args == "acme-x --marketplace US"


def test_a_region_wide_store_that_lost_a_marketplace_is_renewed_region_wide() -> None:
    check = check_store(record(region_wide=True), "Atzr|x", Sells(["US"]))
    assert commands(check.hint or "") == [["connect", "acme-x", "--region", "na"]]
    self_made = check_store(record(region_wide=True, self_authorized=True), "Atzr|x", Sells(["US"]))
    assert commands(self_made.hint or "") == [
        ["connect", "acme-x", "--region", "na", "--refresh-token-stdin"]
    ]


def test_secret_backend_hints_name_a_command_that_reads_the_home() -> None:
    assert commands(FILE_FIX) == [["secrets", "move", "--to", "keyring"]]
    retry = import_retry({"SOLDSCOPE_SECRETS": "file"}, None, False, True)
    assert retry == "soldscope team import --from-secrets file --dry-run"
    # The backend that failed is never the one suggested.
    assert "--from-secrets keyring" in import_retry({}, "file", False, False)
    assert "--from-secrets file" in import_retry(
        {"SOLDSCOPE_SECRETS": "keyring"}, None, False, False
    )


def test_every_command_in_the_hints_parses() -> None:
    found = [args for hint in collected_hints() for args in commands(hint)]
    assert len(found) >= 20
    runner = CliRunner()
    for args in found:
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
