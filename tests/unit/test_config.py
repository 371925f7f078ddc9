"""config.toml parsing, errors with line/column, atomic locked writes."""

from __future__ import annotations

import multiprocessing
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from soldscope_cli.errors import ConfigError, UsageError
from soldscope_cli.fleet.config import (
    Config,
    ConfigFile,
    StoreRecord,
    dump_config,
    parse_config,
    validate_store_name,
)

GOOD = """
[app]
application_id = "amzn1.sp.solution.1111"
client_id = "amzn1.application-oa2-client.abc"
redirect_uri = "https://example.com/relay/"
draft = true

[stores.acme-us]
region = "na"
marketplaces = ["US", "CA"]
selling_partner_id = "A1B2C3"
authorized_at = 2026-01-05T10:00:00Z

[stores.acme_uk]
region = "eu"
marketplaces = ["GB", "DE"]
authorized_at = "2026-02-01T00:00:00+01:00"
"""


def test_parses_a_hand_written_file() -> None:
    config = parse_config(Path("c.toml"), GOOD)
    assert config.app.application_id == "amzn1.sp.solution.1111"
    assert config.app.draft is True
    us = config.stores["acme-us"]
    assert us.region == "na" and us.marketplaces == ["US", "CA"]
    assert us.authorized_at == datetime(2026, 1, 5, 10, tzinfo=UTC)
    uk = config.stores["acme_uk"]
    assert uk.marketplaces == ["UK", "DE"]  # GB accepted, stored as UK
    assert uk.authorized_at == datetime(2026, 1, 31, 23, tzinfo=UTC)
    assert uk.selling_partner_id is None


def test_round_trip_keeps_everything() -> None:
    config = parse_config(Path("c.toml"), GOOD)
    again = parse_config(Path("c.toml"), dump_config(config))
    assert again == config


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("[stores.a]\nregion = 'na'\nmarketplaces = [\n", "line 4", "c.toml"),
        (
            "[stores.a]\nregion = 'xx'\nmarketplaces = ['US']\nauthorized_at = 2026-01-01T00:00:00Z\n",
            "line 2, column 1",
            "region must be one of na, eu, fe",
        ),
        (
            "\n\n[stores.a]\nregion = 'na'\nmarketplaces = ['US', 'DE']\nauthorized_at = 2026-01-01T00:00:00Z\n",
            "line 5, column 1",
            "a connection covers one region",
        ),
        (
            "[stores.a]\nregion = 'na'\nmarketplaces = ['ZZ']\nauthorized_at = 2026-01-01T00:00:00Z\n",
            "line 3",
            "unknown marketplace 'ZZ'",
        ),
        (
            "[stores.a]\nregion = 'na'\nmarketplaces = ['US']\nauthorized_at = 2026-01-01T00:00:00\n",
            "line 4",
            "needs a UTC offset",
        ),
        (
            "[stores.a]\nregion = 'na'\nmarketplaces = ['US']\nauthorized_at = 'yesterday'\n",
            "line 4",
            "RFC 3339",
        ),
        (
            "[stores.a]\nregion = 'na'\nmarketplaces = ['US']\n",
            "line 1",
            "authorized_at is missing",
        ),
        (
            "[stores.Bad]\nregion = 'na'\nmarketplaces = ['US']\nauthorized_at = 2026-01-01T00:00:00Z\n",
            "line 1",
            "invalid store name 'Bad'",
        ),
        (
            "[stores.a]\nregion = 'na'\nmarketplace = ['US']\nauthorized_at = 2026-01-01T00:00:00Z\n",
            "line 3",
            "unknown key 'marketplace'",
        ),
        ("[app]\ndraft = 'yes'\n", "line 2", "draft must be true or false"),
        ("[secrets]\nbackend = 'plaintext'\n", "line 2", "secrets backend must be one of"),
        ("[nonsense]\n", "line 1", "unknown table or key 'nonsense'"),
        ("[state]\nretention_days = 0\n", "line 2", "retention_days must be a whole number"),
        ("[state]\nretention_days = '400'\n", "line 2", "retention_days must be a whole number"),
        ("[state]\nretention_days = 1.5\n", "line 2", "retention_days must be a whole number"),
        ("[state]\nkeep = 3\n", "line 2", "unknown key 'keep' in [state]"),
    ],
)
def test_errors_name_path_line_and_problem(text: str, where: str, what: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(Path("c.toml"), text)
    assert "c.toml" in info.value.message
    assert where in info.value.message
    assert what in info.value.message


@pytest.mark.parametrize("name", ["a", "acme-us", "x_1", "a" * 64])
def test_valid_store_names(name: str) -> None:
    assert validate_store_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "a b", "a.b", "a" * 65, "é"])
def test_invalid_store_names(name: str) -> None:
    with pytest.raises(UsageError):
        validate_store_name(name)


def test_writes_are_atomic_0600_and_leave_no_temp_files(tmp_path: Path) -> None:
    cf = ConfigFile(tmp_path / "cfg" / "config.toml", tmp_path / "cfg" / ".lock")
    with cf.edit() as config:
        config.app.application_id = "amzn1.sp.solution.x"
    assert stat.S_IMODE(os.stat(cf.path).st_mode) == 0o600
    assert sorted(p.name for p in cf.path.parent.iterdir()) == [".lock", "config.toml"]
    assert cf.load().app.application_id == "amzn1.sp.solution.x"


def test_a_failed_edit_leaves_the_file_untouched(tmp_path: Path) -> None:
    cf = ConfigFile(tmp_path / "config.toml", tmp_path / ".lock")
    cf.path.write_text(GOOD)
    with pytest.raises(RuntimeError), cf.edit() as config:
        config.stores.clear()
        raise RuntimeError("boom")
    assert cf.path.read_text() == GOOD


def test_a_malformed_file_is_never_overwritten(tmp_path: Path) -> None:
    cf = ConfigFile(tmp_path / "config.toml", tmp_path / ".lock")
    cf.path.write_text("[stores.a\n")
    with pytest.raises(ConfigError), cf.edit():
        pass
    assert cf.path.read_text() == "[stores.a\n"


def _add_stores(path: str, prefix: str, count: int) -> None:
    cf = ConfigFile(Path(path), Path(path + ".lock"))
    for i in range(count):
        with cf.edit() as config:
            config.stores[f"{prefix}{i}"] = StoreRecord(
                name=f"{prefix}{i}",
                region="na",
                marketplaces=["US"],
                authorized_at=datetime(2026, 1, 1, tzinfo=UTC),
            )


def test_concurrent_processes_never_lose_each_others_edits(tmp_path: Path) -> None:
    path = str(tmp_path / "config.toml")
    procs = [
        multiprocessing.get_context("spawn").Process(target=_add_stores, args=(path, p, 15))
        for p in ("a", "b", "c")
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    stores = ConfigFile(Path(path), Path(path + ".lock")).load().stores
    assert len(stores) == 45


def test_missing_file_is_an_empty_config(tmp_path: Path) -> None:
    assert ConfigFile(tmp_path / "none.toml", tmp_path / ".l").load() == Config()


def test_decoded_config_is_cached_by_content_hash(tmp_path: Path) -> None:
    cf = ConfigFile(tmp_path / "config.toml", tmp_path / ".lock")
    cf.path.write_text(GOOD)
    first = cf.load()
    assert cf.cache_path.exists()
    assert stat.S_IMODE(os.stat(cf.cache_path).st_mode) == 0o600
    assert cf.load() == first  # from the cache
    # An edit (same size even) is never hidden by the cache.
    cf.path.write_text(GOOD.replace('"na"', '"eu"', 1).replace('["US", "CA"]', '["DE", "FR"]'))
    assert cf.load().stores["acme-us"].region == "eu"
    cf.path.write_text("[stores.a]\nregion = 'mars'\n")
    with pytest.raises(ConfigError):
        cf.load()


def test_a_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    cf = ConfigFile(tmp_path / "config.toml", tmp_path / ".lock")
    cf.path.write_text(GOOD)
    cf.load()
    cf.cache_path.write_text("{garbage")
    assert cf.load().stores["acme-us"].marketplaces == ["US", "CA"]


def test_retention_defaults_to_400_days_and_round_trips() -> None:
    assert parse_config(Path("c.toml"), "").retention_days == 400
    config = parse_config(Path("c.toml"), "[state]\nretention_days = 30\n")
    assert config.retention_days == 30
    assert parse_config(Path("c.toml"), dump_config(config)).retention_days == 30
    assert "[state]" not in dump_config(parse_config(Path("c.toml"), ""))


@pytest.mark.parametrize(
    "when",
    [
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2026, 9, 14, 9, 30, 5, 123456, tzinfo=UTC),
        datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 9, 14, 1, 0, tzinfo=timezone(timedelta(hours=5))),
    ],
)
def test_written_times_read_back(tmp_path: Path, when: datetime) -> None:
    from soldscope_cli.fleet.config import Config, StoreRecord, dump_config

    config = Config(stores={"a": StoreRecord("a", "na", ["US"], when)})
    config.app.client_secret_set_at = when
    text = dump_config(config)
    parsed = parse_config(tmp_path / "config.toml", text)
    expected = when.astimezone(UTC).replace(microsecond=0)
    assert parsed.stores["a"].authorized_at == expected
    assert parsed.app.client_secret_set_at == expected


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(26, 9, 14, tzinfo=UTC), "0026-09-14T00:00:00Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "9999-12-31T23:59:59Z"),
    ],
)
def test_format_time_always_writes_four_digit_years(when: datetime, text: str) -> None:
    from soldscope_cli.fleet.config import format_time

    assert format_time(when) == text


def test_the_secrets_namespace_round_trips_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    from soldscope_cli.fleet.config import Config, dump_config

    config = Config(secrets_backend="keyring", secrets_namespace="3f9c1a2b7d4e5f60")
    assert parse_config(tmp_path / "c.toml", dump_config(config)).secrets_namespace == (
        "3f9c1a2b7d4e5f60"
    )
    with pytest.raises(ConfigError, match=r"line 2, column 1: secrets namespace must be"):
        parse_config(tmp_path / "c.toml", '[secrets]\nnamespace = "../x"\n')


def test_a_valid_config_is_parsed_without_looking_up_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Line lookups scan the file: done per value they made parsing 3,000 stores take seconds."""
    from soldscope_cli.fleet import config as config_module

    calls: list[object] = []
    monkeypatch.setattr(config_module._Locator, "find", lambda *args: calls.append(args))
    text = "".join(
        f'[stores.s{i}]\nregion = "na"\nmarketplaces = ["US"]\n'
        f"authorized_at = 2026-09-14T09:30:00Z\n"
        for i in range(50)
    )
    assert len(parse_config(tmp_path / "c.toml", text).stores) == 50
    assert calls == []


HAND_EDITED = """\
# The agency's soldscope: edited by hand, see docs/configuration.md.

[app]
client_id = "amzn1.application-oa2-client.abc"  # Seller Central > Develop Apps
redirect_uri = "https://example.com/relay/"

# Alerts: ops gets everything, the account team only expiries.
[[notify]]
url = "mailto://ops@example.com"  # the on-call inbox

[[notify]]
url = "slack://T000/B000/XXXX"
events = ["expiring"]

# Clients, one table each.
[stores.acme-us]
region = "na"  # North America
marketplaces = ["US", "CA"]
authorized_at = 2026-01-05T10:00:00Z

[stores.acme_uk]
region = "eu"
marketplaces = ["GB"]  # GB, as Amazon writes it
authorized_at = "2026-02-01T00:00:00+01:00"
"""


def test_an_edit_keeps_comments_layout_and_notify_tables(tmp_path: Path) -> None:
    import tomllib

    cf = ConfigFile(tmp_path / "config.toml", tmp_path / ".lock")
    cf.path.write_text(HAND_EDITED)
    added = StoreRecord(
        name="globex-de",
        region="eu",
        marketplaces=["DE"],
        authorized_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    with cf.edit() as config:
        config.stores["globex-de"] = added
        del config.stores["acme_uk"]
        config.app.client_secret_set_at = datetime(2026, 3, 2, tzinfo=UTC)
    text = cf.path.read_text()
    # Every comment the user wrote that is not about the removed store is still there.
    for line in HAND_EDITED.splitlines():
        if "#" in line and "GB" not in line:
            assert line in text, line
    assert text.count("[[notify]]") == 2  # still tables, not an inline array
    assert "notify = [" not in text
    assert "authorized_at = 2026-01-05T10:00:00Z" in text  # untouched values as written
    assert "acme_uk" not in text
    assert stat.S_IMODE(os.stat(cf.path).st_mode) == 0o600
    again = cf.load()
    assert again.stores["globex-de"] == added
    assert sorted(again.stores) == ["acme-us", "globex-de"]
    assert again.app.client_secret_set_at == datetime(2026, 3, 2, tzinfo=UTC)
    assert [t.url for t in again.notify] == ["mailto://ops@example.com", "slack://T000/B000/XXXX"]
    assert tomllib.loads(text)["stores"]["globex-de"]["marketplaces"] == ["DE"]


def test_an_edit_that_changes_the_notify_targets_writes_tables(tmp_path: Path) -> None:
    from soldscope_cli.fleet.config import NotifyTarget

    cf = ConfigFile(tmp_path / "config.toml", tmp_path / ".lock")
    cf.path.write_text(HAND_EDITED)
    with cf.edit() as config:
        config.notify.append(NotifyTarget("json://hooks.example.com/x", events=("sync_failed",)))
    text = cf.path.read_text()
    assert text.count("[[notify]]") == 3 and "notify = [" not in text
    assert "# Clients, one table each." in text and "# North America" in text
    assert [t.url for t in cf.load().notify][-1] == "json://hooks.example.com/x"


def test_an_edit_that_changes_nothing_leaves_the_file_as_written(tmp_path: Path) -> None:
    cf = ConfigFile(tmp_path / "config.toml", tmp_path / ".lock")
    cf.path.write_text(HAND_EDITED)
    with cf.edit():
        pass
    assert cf.path.read_text() == HAND_EDITED


def test_a_layout_that_cannot_be_patched_in_place_is_written_whole(tmp_path: Path) -> None:
    # Dotted keys: an added [stores.x] table would land between them and change their meaning.
    cf = ConfigFile(tmp_path / "config.toml", tmp_path / ".lock")
    cf.path.write_text(
        'stores.acme-us.region = "na"\nstores.acme-us.marketplaces = ["US"]\n'
        "stores.acme-us.authorized_at = 2026-01-01T00:00:00Z\n"
    )
    added = StoreRecord("zz", "na", ["US"], datetime(2026, 1, 2, tzinfo=UTC))
    with cf.edit() as config:
        config.stores["zz"] = added
    again = cf.load()
    assert sorted(again.stores) == ["acme-us", "zz"] and again.stores["zz"] == added
    assert again.stores["acme-us"].marketplaces == ["US"]
