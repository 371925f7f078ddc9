"""`soldscope doctor`: each check's ok / warning / failure against fake or loopback surroundings."""

from __future__ import annotations

import email.utils
import io
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from tests.conftest import NOW, FakeClock
from typer.testing import CliRunner

from soldscope_cli import __version__
from soldscope_cli.amazon.http import make_http_client
from soldscope_cli.commands.doctor import doctor_command
from soldscope_cli.context import AppContext, open_team_database, utc_now
from soldscope_cli.db.database import CHECK_PROBLEM, MIGRATIONS, CheckRecord, Database
from soldscope_cli.db.sqlite.engine import LocalFile
from soldscope_cli.doctor import CheckResult, DoctorInputs, Level, exit_code, run_doctor
from soldscope_cli.doctor.credentials import (
    check_app_credentials,
    check_authorization_limits,
    check_draft,
    check_redirect,
    check_secret_rotation,
)
from soldscope_cli.doctor.local import (
    check_database,
    check_directory,
    check_file_modes,
    check_sync_lock,
    check_versions,
    load_config,
)
from soldscope_cli.doctor.network import (
    Reached,
    Target,
    check_clock_skew,
    check_network_env,
    probe_target,
    proxy_for,
    targets,
)
from soldscope_cli.doctor.ports import (
    check_callback_port,
    listener_port,
    listening_inodes,
    pids_for_inodes,
)
from soldscope_cli.doctor.secret_probe import PROBE_KEY, check_secret_store, headless
from soldscope_cli.doctor.stores import check_stores
from soldscope_cli.errors import SecretStoreError
from soldscope_cli.fleet.app_credentials import AppCredentials
from soldscope_cli.fleet.config import Config, ConfigFile, StoreRecord
from soldscope_cli.fleet.paths import Paths
from soldscope_cli.fleet.secrets import CLIENT_SECRET_KEY, FileSecretStore, MemorySecretStore
from soldscope_cli.output.doctor import ASCII_SYMBOLS, can_encode, render_text, tally
from soldscope_cli.simulator import Simulator
from soldscope_cli.sync.lock import SyncLock, holder_file

UID = os.geteuid()
HEADLESS_ENV: dict[str, str] = {}
DESKTOP_ENV = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus", "DISPLAY": ":0"}


LOCAL_FILE = LocalFile(MIGRATIONS)


def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "config", tmp_path / "data")


def inputs(tmp_path: Path, **overrides: Any) -> DoctorInputs:
    store = overrides.pop("store", None) or MemorySecretStore()
    env = overrides.pop("env", {})
    timeout = overrides.pop("network_timeout", 3.0)
    base: dict[str, Any] = {
        "env": env,
        "paths": paths(tmp_path),
        "clock": FakeClock(),
        "monotonic": time.monotonic,
        "open_secret_store": lambda _configured: store,
        "make_http": lambda: make_http_client(timeout=None, env=env),
        "uid": UID,
        "local_file": LOCAL_FILE,
        "open_team": open_team_database,
        "offline": True,
        "network_timeout": timeout,
    }
    base.update(overrides)
    return DoctorInputs(**base)


def by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.id: r for r in results}


def write_config(tmp_path: Path, config: Config) -> None:
    p = paths(tmp_path)
    with ConfigFile(p.config_file, p.config_lock).edit() as cfg:
        cfg.app = config.app
        cfg.stores = config.stores
        cfg.secrets_backend = config.secrets_backend


def record(name: str, **kw: Any) -> StoreRecord:
    base: dict[str, Any] = {
        "name": name,
        "region": "na",
        "marketplaces": ["US"],
        "authorized_at": NOW - timedelta(days=10),
        "selling_partner_id": f"A{name.upper().replace('-', '')}",
    }
    base.update(kw)
    return StoreRecord(**base)


# --- versions, directories, files, config --------------------------------------------------------


def test_versions_ok_names_every_key_dependency() -> None:
    result = check_versions(
        lambda name: __version__ if name == "soldscope-cli" else "1.0", "3.12.1"
    )
    assert result.status is Level.OK
    assert result.detail.startswith(f"soldscope {__version__}, Python 3.12.1; typer 1.0")
    assert "keyring 1.0" in result.detail and "httpx 1.0" in result.detail


def test_versions_missing_dependency_fails_with_reinstall() -> None:
    def version_of(name: str) -> str:
        if name == "keyring":
            raise PackageNotFoundError(name)
        return __version__

    result = check_versions(version_of, "3.11.7")
    assert result.status is Level.FAIL
    assert "not installed: keyring" in result.detail
    assert result.fix is not None and "reinstall" in result.fix


def test_versions_stale_install_warns() -> None:
    result = check_versions(lambda name: "0.0.1" if name == "soldscope-cli" else "1.0", "3.11.7")
    assert result.status is Level.WARN
    assert "installed package says 0.0.1" in result.detail


def test_directory_not_created_yet_is_ok(tmp_path: Path) -> None:
    result = check_directory(
        "data-dir", "Data", tmp_path / "a" / "b", {}, "SOLDSCOPE_DATA_DIR", UID
    )
    assert result.status is Level.OK
    assert "not created yet" in result.detail and "default; set SOLDSCOPE_DATA_DIR" in result.detail
    assert not (tmp_path / "a").exists()


def test_directory_owned_by_someone_else_fails(tmp_path: Path) -> None:
    env = {"SOLDSCOPE_DATA_DIR": str(tmp_path)}
    result = check_directory("data-dir", "Data", tmp_path, env, "SOLDSCOPE_DATA_DIR", UID + 1)
    assert result.status is Level.FAIL
    assert f"(uid {UID + 1}); files written here" in result.detail
    assert "from SOLDSCOPE_DATA_DIR" in result.detail
    assert result.fix is not None and "chown" in result.fix


def test_directory_writable_by_others_warns(tmp_path: Path) -> None:
    target = tmp_path / "shared"
    target.mkdir()
    target.chmod(0o777)
    result = check_directory("data-dir", "Data", target, {}, "SOLDSCOPE_DATA_DIR", UID)
    assert result.status is Level.WARN
    assert result.fix == f"`chmod go-w {target}`"


def test_directory_that_is_a_file_fails(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    result = check_directory("data-dir", "Data", target, {}, "SOLDSCOPE_DATA_DIR", UID)
    assert result.status is Level.FAIL and "not a directory" in result.detail


def test_directory_yours_is_ok(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir(mode=0o700)
    assert check_directory("d", "D", target, {}, "X", UID).status is Level.OK


def _private(path: Path, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    path.chmod(mode)
    return path


def test_file_modes_all_private_ok(tmp_path: Path) -> None:
    p = paths(tmp_path)
    _private(p.config_file)
    _private(p.database)
    result = check_file_modes(p, UID)
    assert result.status is Level.OK
    assert result.detail == "config.toml, soldscope.db: mode 0600, yours"


def test_file_modes_readable_secrets_file_fails(tmp_path: Path) -> None:
    p = paths(tmp_path)
    _private(p.secrets_file, 0o644)
    _private(p.log_file, 0o640)
    result = check_file_modes(p, UID)
    assert result.status is Level.FAIL
    assert f"{p.secrets_file} (mode 644)" in result.detail
    assert result.fix == f"`chmod 600 {p.secrets_file} {p.log_file}`"


def test_file_modes_loose_config_or_foreign_owner_warns(tmp_path: Path) -> None:
    p = paths(tmp_path)
    _private(p.config_file, 0o644)
    assert check_file_modes(p, UID).status is Level.WARN
    p.config_file.chmod(0o600)
    foreign = check_file_modes(p, UID + 1)
    assert foreign.status is Level.WARN
    assert "owned by another user" in foreign.detail and "chown" in (foreign.fix or "")


def test_config_absent_is_a_fresh_install(tmp_path: Path) -> None:
    config, result = load_config(paths(tmp_path))
    assert config == Config()
    assert result.status is Level.OK and "not created yet" in result.detail
    assert not (tmp_path / "config").exists()


def test_config_invalid_fails_with_path_and_line(tmp_path: Path) -> None:
    p = paths(tmp_path)
    p.config_dir.mkdir()
    p.config_file.write_text('[stores.acme]\nregion = "us"\n')
    config, result = load_config(p)
    assert config is None
    assert result.status is Level.FAIL
    assert result.detail.startswith(f"{p.config_file}, line 2, column 1: region must be one of")
    assert result.fix is not None and "docs/configuration.md" in result.fix


def test_config_valid_counts_stores(tmp_path: Path) -> None:
    write_config(tmp_path, Config(stores={"a": record("a")}))
    config, result = load_config(paths(tmp_path))
    assert config is not None and list(config.stores) == ["a"]
    assert result.status is Level.OK and result.detail.endswith("valid (1 store)")


# --- secret store ------------------------------------------------------------------------------


class BrokenStore(MemorySecretStore):
    """A keyring that refuses, like Secret Service without a session bus."""

    name = "keyring"

    def set(self, key: str, value: str) -> None:
        raise SecretStoreError("no usable OS keyring was found", hint="unused")


class HangingStore(MemorySecretStore):
    """A keyring waiting for an unlock prompt that never comes."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def set(self, key: str, value: str) -> None:
        self.release.wait(10)


class NullStore(MemorySecretStore):
    """keyring's null backend: accepts everything, keeps nothing."""

    def set(self, key: str, value: str) -> None:
        return None


def test_secret_store_round_trip_ok_and_leaves_nothing_behind() -> None:
    store = MemorySecretStore({CLIENT_SECRET_KEY: "s3cret"})
    result, probe = check_secret_store(DESKTOP_ENV, None, lambda _c: store, 2.0)
    assert result.status is Level.OK
    assert result.detail == "keyring (default): in-memory (nothing is kept); round trip ok"
    assert probe is not None and probe.client_secret_stored
    assert PROBE_KEY not in store.values
    assert "s3cret" not in result.detail


def test_secret_store_file_backend_warns(tmp_path: Path) -> None:
    store = FileSecretStore(tmp_path / "secrets.json")
    env = {"SOLDSCOPE_SECRETS": "file"}
    result, probe = check_secret_store(env, None, lambda _c: store, 2.0)
    assert result.status is Level.WARN
    assert result.detail.startswith("file (from SOLDSCOPE_SECRETS): plaintext file")
    assert probe is not None and not probe.client_secret_stored
    assert json.loads((tmp_path / "secrets.json").read_text()) == {}


def test_secret_store_file_backend_not_created_yet_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secrets.json"
    result, probe = check_secret_store(
        {"SOLDSCOPE_SECRETS": "file"},
        None,
        lambda _c: FileSecretStore(path),
        2.0,
        secrets_file=path,
    )
    assert result.status is Level.WARN and "not created yet" in result.detail
    assert probe is not None and not probe.client_secret_stored
    assert not (tmp_path / "data").exists()


def test_secret_store_backend_from_config_is_named() -> None:
    result, _ = check_secret_store({}, "file", lambda _c: MemorySecretStore(), 2.0)
    assert result.detail.startswith("file (from config [secrets] backend)")


def test_secret_store_bad_env_value_fails() -> None:
    result, probe = check_secret_store(
        {"SOLDSCOPE_SECRETS": "vault"}, None, lambda _c: MemorySecretStore(), 2.0
    )
    assert result.status is Level.FAIL and probe is None
    assert "SOLDSCOPE_SECRETS='vault' is not a secrets backend" in result.detail


def test_secret_store_headless_failure_explains_cron_and_options() -> None:
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring"}
    result, _ = check_secret_store(env, None, lambda _c: BrokenStore(), 2.0, platform="linux")
    assert result.status is Level.FAIL
    assert "no usable OS keyring was found" in result.detail
    assert "DBUS_SESSION_BUS_ADDRESS and DISPLAY are unset, as under cron or SSH" in result.detail
    assert "PYTHON_KEYRING_BACKEND=keyring.backends.SecretService.Keyring" in result.detail
    assert result.fix is not None
    for option in ("dbus-run-session", "gnome-keyring-daemon --unlock", "SOLDSCOPE_SECRETS=file"):
        assert option in result.fix


def test_secret_store_failure_on_a_desktop_does_not_blame_cron() -> None:
    result, _ = check_secret_store(
        DESKTOP_ENV, None, lambda _c: BrokenStore(), 2.0, platform="linux"
    )
    assert result.status is Level.FAIL
    assert "cron" not in result.detail
    assert headless(HEADLESS_ENV, "linux") and not headless(DESKTOP_ENV, "linux")
    assert not headless(HEADLESS_ENV, "darwin")


def test_secret_store_that_hangs_times_out() -> None:
    store = HangingStore()
    started = time.monotonic()
    result, _ = check_secret_store({}, None, lambda _c: store, 0.2, platform="linux")
    store.release.set()
    assert time.monotonic() - started < 2
    assert result.status is Level.FAIL
    assert "did not answer within 0.2 s" in result.detail


def test_secret_store_that_forgets_fails() -> None:
    result, _ = check_secret_store(DESKTOP_ENV, None, lambda _c: NullStore(), 2.0)
    assert result.status is Level.FAIL
    assert "did not read back as written" in result.detail


# --- app credentials -------------------------------------------------------------------------


def creds(**kw: Any) -> AppCredentials:
    base: dict[str, Any] = {
        "application_id": "amzn1.sp.solution.x",
        "client_id": "amzn1.application-oa2-client.y",
        "redirect_uri": "https://agency.example/soldscope/",
        "draft": False,
        "sources": {"application_id": "config", "client_id": "config"},
    }
    base.update(kw)
    return AppCredentials(**base)


def test_app_credentials_missing_ids_fail() -> None:
    result = check_app_credentials(creds(application_id=None, client_id=None), True)
    assert result.status is Level.FAIL
    assert result.detail.endswith("missing application id, LWA client id")
    assert result.fix is not None and "soldscope app set --app-id" in result.fix


def test_app_credentials_secret_missing_fails() -> None:
    result = check_app_credentials(creds(), False)
    assert result.status is Level.FAIL
    assert result.fix is not None and "--client-secret-stdin" in result.fix


def test_app_credentials_sources_named() -> None:
    from_env = creds(
        client_secret="x",
        sources={
            "application_id": "env SOLDSCOPE_APP_ID",
            "client_id": "config",
            "client_secret": "env SOLDSCOPE_LWA_CLIENT_SECRET",
        },
    )
    result = check_app_credentials(from_env, None)
    assert result.status is Level.OK
    assert result.detail == (
        "application id (env SOLDSCOPE_APP_ID), LWA client id (config), "
        "client secret (env SOLDSCOPE_LWA_CLIENT_SECRET)"
    )
    assert check_app_credentials(creds(), True).detail.endswith("client secret (secret store)")


def test_app_credentials_unknown_secret_when_store_unusable_warns() -> None:
    result = check_app_credentials(creds(), None)
    assert result.status is Level.WARN and "secret store is unusable" in result.detail


@pytest.mark.parametrize(
    ("age_days", "status", "text"),
    [
        (10, Level.OK, "set 10 days ago; due for rotation on 2027-05-18T12:00:00Z"),
        (151, Level.WARN, "set 151 days ago; Amazon expires it on 2026-12-28T12:00:00Z"),
        (149, Level.OK, "set 149 days ago"),
        (150, Level.WARN, "set 150 days ago"),
        (180, Level.FAIL, "Amazon expired it on 2026-11-29T12:00:00Z"),
        (400, Level.FAIL, "invalid_client"),
    ],
)
def test_secret_rotation(age_days: int, status: Level, text: str) -> None:
    stored = creds(client_secret="x", sources={"client_secret": "keyring"})
    result = check_secret_rotation(stored, NOW - timedelta(days=age_days), NOW)
    assert result.status is status
    assert text in result.detail
    if status is not Level.OK:
        assert result.fix is not None and "--client-secret-stdin" in result.fix


def test_secret_rotation_names_app_rotate_where_a_queue_is_set_up() -> None:
    stored = creds(client_secret="x", sources={"client_secret": "keyring"})
    due = check_secret_rotation(stored, NOW - timedelta(days=160), NOW, queue=True)
    assert due.status is Level.WARN and due.fix == "run `soldscope app rotate` before then"
    # An expired secret cannot ask Amazon for its successor: the portal is the only way.
    expired = check_secret_rotation(stored, NOW - timedelta(days=190), NOW, queue=True)
    assert expired.fix is not None and "Solution Provider Portal" in expired.fix


def test_secret_rotation_unknown_date_or_env_secret() -> None:
    stored = creds(client_secret="x", sources={"client_secret": "keyring"})
    assert check_secret_rotation(stored, None, NOW).status is Level.WARN
    env = creds(client_secret="x", sources={"client_secret": "env SOLDSCOPE_LWA_CLIENT_SECRET"})
    result = check_secret_rotation(env, None, NOW)
    assert result.status is Level.OK and "SOLDSCOPE_LWA_CLIENT_SECRET" in result.detail
    assert check_secret_rotation(creds(), None, NOW).status is Level.SKIP


@pytest.mark.parametrize(
    ("uri", "status", "text"),
    [
        ("https://agency.example/soldscope/", Level.OK, "https, no fragment"),
        ("https://agency.example/#/cb", Level.FAIL, "contains '#'"),
        ("http://agency.example/cb", Level.FAIL, "only accepts https"),
        ("http://127.0.0.1:8765/callback", Level.WARN, "only the local simulator"),
        (None, Level.WARN, "none configured"),
    ],
)
def test_redirect_uri(uri: str | None, status: Level, text: str) -> None:
    result = check_redirect(creds(redirect_uri=uri))
    assert result.status is status
    assert text in result.detail
    assert (result.fix is None) == (status is Level.OK)


def test_draft_flag_is_explained_both_ways() -> None:
    draft = check_draft(creds(draft=True))
    assert draft.status is Level.OK and "carry version=beta" in draft.detail
    published = check_draft(creds(draft=False))
    assert "MD1000" in published.detail and "--draft" in published.detail


@pytest.mark.parametrize(
    ("oauth", "private", "status", "text"),
    [
        (0, 0, Level.OK, "no stores yet"),
        (19, 7, Level.OK, "19 seller(s) by OAuth consent"),
        (20, 0, Level.WARN, "25 seller authorizations; this is close to it"),
        (26, 0, Level.WARN, "this is over it"),
        (0, 8, Level.WARN, "10 self-authorizations; this is close to it"),
        (0, 11, Level.WARN, "10 self-authorizations; this is over it"),
    ],
)
def test_authorization_limits(oauth: int, private: int, status: Level, text: str) -> None:
    stores = {f"o{i}": record(f"o{i}") for i in range(oauth)}
    stores |= {f"p{i}": record(f"p{i}", self_authorized=True) for i in range(private)}
    result = check_authorization_limits(Config(stores=stores))
    assert result.status is status
    assert text in result.detail


def test_authorization_limits_count_sellers_not_regions() -> None:
    stores = {
        f"s{i}-{region}": record(
            f"s{i}-{region}",
            region=region,
            marketplaces=[market],
            selling_partner_id=f"A{i}",
            self_authorized=True,
        )
        for i in range(5)
        for region, market in (("na", "US"), ("eu", "DE"))
    }
    result = check_authorization_limits(Config(stores=stores))
    assert result.status is Level.OK
    assert "5 self-authorized (10 connection(s))" in result.detail


# --- network ---------------------------------------------------------------------------------


class _DateServer(ThreadingHTTPServer):
    offset = 0.0


class _DateHandler(BaseHTTPRequestHandler):
    server: _DateServer

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(time.time() + self.server.offset, usegmt=True)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def date_server() -> Iterator[Callable[[float], str]]:
    server = _DateServer(("127.0.0.1", 0), _DateHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()

    def url(offset: float) -> str:
        server.offset = offset
        return f"http://127.0.0.1:{server.server_address[1]}/auth/o2/token"

    yield url
    server.shutdown()
    server.server_close()
    thread.join()


def test_targets_one_per_origin() -> None:
    sim = "http://127.0.0.1:9/"
    found = targets(sim + "auth/o2/token", {"na": sim.rstrip("/"), "eu": sim.rstrip("/")})
    assert [(t.origin, t.roles) for t in found] == [
        ("http://127.0.0.1:9", ("Login with Amazon", "SP-API eu", "SP-API na"))
    ]
    real = targets(
        "https://api.amazon.com/auth/o2/token", {"na": "https://sellingpartnerapi-na.amazon.com"}
    )
    assert [t.host for t in real] == ["api.amazon.com", "sellingpartnerapi-na.amazon.com"]


@pytest.mark.parametrize(
    ("url", "proxies", "expected"),
    [
        ("https://api.amazon.com/x", {"https_proxy": "http://p:3128"}, "http://p:3128"),
        ("https://api.amazon.com/x", {"http_proxy": "http://p:3128"}, None),
        ("http://127.0.0.1:9/", {"all_proxy": "http://p:1"}, "http://p:1"),
        ("https://api.amazon.com/x", {"https_proxy": "http://p", "no_proxy": ".amazon.com"}, None),
        ("https://api.amazon.com/x", {"https_proxy": "http://p", "no_proxy": "*"}, None),
        (
            "https://api.amazon.com/x",
            {"https_proxy": "http://p", "no_proxy": "example.com"},
            "http://p",
        ),
    ],
)
def test_proxy_for(url: str, proxies: dict[str, str], expected: str | None) -> None:
    assert proxy_for(url, proxies) == expected


def test_network_env_missing_ca_bundle_fails(tmp_path: Path) -> None:
    missing = tmp_path / "corp.pem"
    result = check_network_env(
        {
            "proxies": {"https_proxy": "http://u:***@proxy:3128"},
            "ca_bundle": {"source": "SSL_CERT_FILE", "path": str(missing), "exists": False},
        }
    )
    assert result.status is Level.FAIL
    assert (
        result.detail
        == f"https_proxy=http://u:***@proxy:3128; CA bundle {missing} (SSL_CERT_FILE) does not exist"
    )
    assert result.fix == "point SSL_CERT_FILE at a readable PEM file, or unset it"


def _probe(url: str, *, clock: Callable[[], datetime] = utc_now, **kw: Any) -> Reached:
    timeout = kw.pop("timeout", 2.0)
    with make_http_client(timeout=None, env={}) as client:
        client.timeout = httpx.Timeout(timeout)
        return probe_target(
            Target(url, ("Login with Amazon",)),
            client,
            kw.pop("resolver", lambda host, port: ["127.0.0.1"]),
            clock,
            time.monotonic,
            kw.pop("proxies", {}),
            timeout,
            0,
        )


def test_simulator_reachable_and_clock_in_step() -> None:
    with Simulator() as sim:
        reached = _probe(sim.env()["SOLDSCOPE_LWA_URL"])
    assert reached.result.status is Level.OK
    assert reached.result.detail.startswith("plain http, HTTP ")
    skew = check_clock_skew([reached])
    assert skew.status is Level.OK and "127.0.0.1 (its Date header)" in skew.detail


@pytest.mark.parametrize(
    ("ahead", "status"),
    [
        (timedelta(minutes=10), Level.FAIL),
        (timedelta(minutes=2), Level.WARN),
        (timedelta(0), Level.OK),
    ],
)
def test_clock_skew_against_the_simulator(ahead: timedelta, status: Level) -> None:
    with Simulator() as sim:
        reached = _probe(sim.env()["SOLDSCOPE_LWA_URL"], clock=lambda: utc_now() + ahead)
    result = check_clock_skew([reached])
    assert result.status is status
    if status is Level.FAIL:
        assert "ahead of 127.0.0.1" in result.detail and "timedatectl" in (result.fix or "")


def test_clock_behind_a_server_with_a_skewed_date(date_server: Callable[[float], str]) -> None:
    reached = _probe(date_server(-400))
    result = check_clock_skew([reached])
    assert result.status is Level.FAIL
    assert "s ahead of 127.0.0.1" in result.detail
    reached = _probe(date_server(+90))
    result = check_clock_skew([reached])
    assert result.status is Level.WARN and " s behind 127.0.0.1" in result.detail


def test_clock_skew_without_any_date_is_skipped() -> None:
    assert check_clock_skew([]).status is Level.SKIP


def test_dns_failure_fails_unless_a_proxy_resolves() -> None:
    def no_dns(host: str, port: int) -> list[str]:
        raise socket.gaierror(-2, "Name or service not known")

    reached = _probe("https://api.amazon.invalid/auth/o2/token", resolver=no_dns)
    assert reached.result.status is Level.FAIL
    assert reached.result.detail == (
        "DNS: cannot resolve api.amazon.invalid: [Errno -2] Name or service not known"
    )
    assert reached.result.id == "network:api.amazon.invalid:443"


def test_nothing_listening_fails_with_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reached = _probe(f"http://127.0.0.1:{port}/")
    assert reached.result.status is Level.FAIL
    assert reached.result.detail.startswith("cannot connect")


def test_silent_server_times_out() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        started = time.monotonic()
        reached = _probe(f"http://127.0.0.1:{port}/", timeout=0.3)
    assert time.monotonic() - started < 2
    assert reached.result.status is Level.FAIL
    assert reached.result.detail == "no answer within 0.3 s"


def test_plain_http_to_localhost_is_fine(date_server: Callable[[float], str]) -> None:
    url = date_server(0).replace("127.0.0.1", "localhost")
    reached = _probe(url, resolver=lambda host, port: ["127.0.0.1"])
    assert reached.result.status is Level.OK
    assert reached.result.detail.startswith("DNS 127.0.0.1, plain http, HTTP 404")


def _mocked(url: str, handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> Reached:
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        return probe_target(
            Target(url, ("SP-API na",)),
            client,
            lambda host, port: ["10.1.2.3"],
            utc_now,
            time.monotonic,
            kw.get("proxies", {}),
            1.0,
            0,
        )


def test_plain_http_off_loopback_warns() -> None:
    reached = _mocked("http://sp.agency.example/", lambda request: httpx.Response(403))
    assert reached.result.status is Level.WARN
    assert "tokens would cross the network unencrypted" in reached.result.detail
    assert reached.result.fix == "use an https URL"


def test_untrusted_certificate_fails_with_ca_bundle_fix() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] self-signed certificate")

    reached = _mocked("https://sellingpartnerapi-na.amazon.com", handler)
    assert reached.result.status is Level.FAIL
    assert reached.result.detail.startswith("TLS: certificate not trusted")
    assert "SSL_CERT_FILE" in (reached.result.fix or "")


def test_https_reached_shows_dns_tls_and_proxy() -> None:
    reached = _mocked(
        "https://sellingpartnerapi-na.amazon.com",
        lambda request: httpx.Response(404),
        proxies={"https_proxy": "http://proxy:3128"},
    )
    assert reached.result.status is Level.OK
    assert reached.result.detail.startswith("DNS 10.1.2.3, TLS verified, HTTP 404 in ")
    assert reached.result.detail.endswith("(via proxy http://proxy:3128)")


def test_run_online_against_the_simulator(tmp_path: Path) -> None:
    with Simulator() as sim:
        write_config(
            tmp_path,
            Config(stores={"a": record("a"), "b": record("b", region="eu", marketplaces=["DE"])}),
        )
        results = run_doctor(inputs(tmp_path, env=sim.env(), offline=False, clock=utc_now))
    found = by_id(results)
    port = sim.url.rsplit(":", 1)[1]
    net = found[f"network:127.0.0.1:{port}"]
    assert net.status is Level.OK
    assert net.title == f"Reach Login with Amazon + SP-API eu + SP-API na (http://127.0.0.1:{port})"
    assert found["network-env"].status is Level.OK
    assert found["clock-skew"].status is Level.OK


# --- callback port ---------------------------------------------------------------------------


def test_callback_port_picked_at_run_time_is_ok() -> None:
    result = check_callback_port("https://agency.example/soldscope/")
    assert result.status is Level.OK and "free port picked at run time" in result.detail
    assert listener_port(None) is None
    assert listener_port("http://localhost/callback") == 80


def test_callback_port_free_is_ok() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = check_callback_port(f"http://127.0.0.1:{port}/callback")
    assert result.status is Level.OK and f"127.0.0.1:{port}" in result.detail


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_callback_port_in_use_names_the_process() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        result = check_callback_port(f"http://127.0.0.1:{port}/callback")
    assert result.status is Level.FAIL
    assert f"127.0.0.1:{port} (from the redirect URI" in result.detail
    assert f"held by pid {os.getpid()} (" in result.detail
    assert result.fix is not None and "--redirect-uri http://127.0.0.1:PORT/callback" in result.fix


def test_port_holder_lookup_in_a_fake_proc(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    (tmp_path / "net" / "tcp").write_text(
        header
        + "   0: 0100007F:2231 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000  0 4242 1\n"
        + "   1: 0100007F:2231 0100007F:9999 01 00000000:00000000 00:00000000 00000000  1000  0 5555 1\n"
    )
    proc = tmp_path / "321"
    (proc / "fd").mkdir(parents=True)
    os.symlink("socket:[4242]", proc / "fd" / "7")
    (proc / "cmdline").write_bytes(b"python3\0-m\0http.server\0")
    (tmp_path / "99" / "fd").mkdir(parents=True)
    os.symlink("socket:[5555]", tmp_path / "99" / "fd" / "3")
    inodes = listening_inodes(0x2231, str(tmp_path))
    assert inodes == {"4242"}
    assert pids_for_inodes(inodes, str(tmp_path)) == [(321, "python3 -m http.server")]


# --- database and sync lock --------------------------------------------------------------------


def test_database_absent_is_ok(tmp_path: Path) -> None:
    [result] = check_database(tmp_path / "soldscope.db", time.monotonic, 5, LOCAL_FILE)
    assert result.status is Level.OK and "not created yet" in result.detail
    assert not (tmp_path / "soldscope.db").exists()


def _migrated(path: Path) -> Database:

    db = Database(path, MIGRATIONS)
    db.connection()
    return db


def test_database_current_is_ok(tmp_path: Path) -> None:
    db = _migrated(tmp_path / "soldscope.db")
    db.close()
    integrity, migrations = check_database(tmp_path / "soldscope.db", time.monotonic, 5, LOCAL_FILE)
    assert integrity.status is Level.OK and "integrity check ok" in integrity.detail
    assert migrations.status is Level.OK and migrations.detail.startswith("current (")


def test_database_pending_and_unknown_migrations_warn(tmp_path: Path) -> None:
    path = tmp_path / "soldscope.db"
    db = _migrated(path)
    db.connection().execute("DELETE FROM schema_migrations WHERE name = '0100_inventory'")
    db.close()
    _, migrations = check_database(path, time.monotonic, 5, LOCAL_FILE)
    assert migrations.status is Level.WARN
    assert "1 migration(s) not applied yet (0100_inventory)" in migrations.detail
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO schema_migrations VALUES ('0100_inventory', 'x'), ('9999_future', 'x')"
    )
    conn.commit()
    conn.close()
    _, migrations = check_database(path, time.monotonic, 5, LOCAL_FILE)
    assert migrations.status is Level.WARN and "9999_future" in migrations.detail
    assert "upgrade soldscope" in (migrations.fix or "")


def test_database_garbage_fails(tmp_path: Path) -> None:
    path = tmp_path / "soldscope.db"
    path.write_bytes(b"this is not sqlite" * 100)
    [result] = check_database(path, time.monotonic, 5, LOCAL_FILE)
    assert result.status is Level.FAIL
    assert "not a database" in result.detail
    assert result.fix is not None and f"mv {path} {path}.broken" in result.fix


def test_database_integrity_check_over_budget_warns(tmp_path: Path) -> None:
    path = tmp_path / "soldscope.db"
    db = _migrated(path)
    with db.transaction() as tx:
        tx.executemany(
            "INSERT INTO events (at, kind, detail) VALUES (?, ?, ?)",
            [("2026-01-01", "x", "y" * 200)] * 5000,
        )
    db.close()
    ticks = iter(range(0, 10**6, 10))
    [integrity, _] = check_database(path, lambda: float(next(ticks)), 5, LOCAL_FILE)
    assert integrity.status is Level.WARN
    assert "did not finish within 5 s" in integrity.detail
    assert (
        integrity.fix == f"run it without a time limit: `sqlite3 {path} 'PRAGMA integrity_check'`"
    )


def test_sync_lock_absent_or_free(tmp_path: Path) -> None:
    lock_path = tmp_path / "sync.lock"
    assert check_sync_lock(lock_path, NOW).detail == "no sync running"
    holder_file(lock_path).write_text(
        json.dumps({"pid": 4242, "started_at": "2026-11-29T11:00:00Z"})
    )
    lock_path.touch()
    result = check_sync_lock(lock_path, NOW)
    assert result.status is Level.OK
    assert "ended without cleaning up" in result.detail


@pytest.mark.parametrize(
    ("started", "status"),
    [(NOW - timedelta(minutes=75), Level.OK), (NOW - timedelta(hours=13), Level.WARN)],
)
def test_sync_lock_held_names_pid_and_start(
    tmp_path: Path, started: datetime, status: Level
) -> None:
    lock_path = tmp_path / "sync.lock"
    with SyncLock(lock_path, lambda: started):
        result = check_sync_lock(lock_path, NOW)
    assert result.status is status
    assert f"a sync is running: pid {os.getpid()} (" in result.detail
    stamp = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"since {stamp}" in result.detail
    if status is Level.OK:
        assert result.detail.endswith("(1 h 15 min)")
    else:
        assert f"kill {os.getpid()}" in (result.fix or "")


# --- stores --------------------------------------------------------------------------------------


def test_stores_none_yet(tmp_path: Path) -> None:
    [result] = check_stores(Config(), LOCAL_FILE.states(tmp_path / "soldscope.db"), NOW)
    assert result.status is Level.OK and "none connected yet" in result.detail


def test_stores_needing_attention_each_get_a_fix(tmp_path: Path) -> None:
    db_path = tmp_path / "soldscope.db"
    config = Config(
        stores={
            "fine": record("fine"),
            "soon": record("soon", authorized_at=NOW - timedelta(days=350)),
            "gone": record("gone", authorized_at=NOW - timedelta(days=400)),
            "revoked": record("revoked"),
            "roles": record("roles"),
        }
    )
    db = _migrated(db_path)
    for name, code in (("revoked", "invalid_grant"), ("roles", "forbidden")):
        db.record_check(
            CheckRecord(name, NOW - timedelta(days=1), "validate", CHECK_PROBLEM, code, "refused")
        )
    db.close()
    listed = check_stores(config, LOCAL_FILE.states(db_path), NOW)
    results = by_id(listed)
    # The overview counts; only the four store lines warn or fail (one failure per store).
    assert results["stores"].status is Level.OK
    assert [r.status for r in listed].count(Level.FAIL) == 3
    assert results["stores"].detail.startswith(
        "5 stores: 1 active, 1 expiring soon, 1 expired, 2 error"
    )
    assert "store:fine" not in results
    soon = results["store:soon"]
    assert soon.status is Level.WARN and "(15 days left)" in soon.detail
    assert "renew it: soldscope connect soon " in (soon.fix or "")
    assert "before 2026-12-14" in (soon.fix or "")
    assert "soldscope validate soon" in (soon.fix or "")
    gone = results["store:gone"]
    assert gone.status is Level.FAIL and "expired on 2026-10-25" in gone.detail
    assert "renew it: soldscope connect gone " in (gone.fix or "")
    revoked = results["store:revoked"]
    assert revoked.status is Level.FAIL and "invalid_grant: refused" in revoked.detail
    assert (
        revoked.fix == "renew it: soldscope connect revoked (or soldscope validate --reauthorize)"
    )
    assert (
        results["store:roles"].fix == "fix the cause above, then re-check: soldscope validate roles"
    )


# --- the whole run, rendering and the command ----------------------------------------------------

FRESH_IDS = [
    "versions",
    "config-dir",
    "data-dir",
    "file-modes",
    "lock-files",
    "config",
    "secret-store",
    "app",
    "secret-rotation",
    "redirect-uri",
    "draft",
    "authorization-limits",
    "network",
    "callback-port",
    "database",
    "sync-lock",
    "stores",
]


def test_fresh_machine_offline(tmp_path: Path) -> None:
    results = run_doctor(inputs(tmp_path))
    assert [r.id for r in results] == FRESH_IDS
    found = by_id(results)
    assert found["app"].status is Level.FAIL
    assert found["network"].status is Level.SKIP
    assert [r.id for r in results if r.status is Level.FAIL] == ["app"]
    assert exit_code(results) == 1
    assert not (tmp_path / "config").exists() and not (tmp_path / "data").exists()


def test_configured_machine_offline_passes(tmp_path: Path) -> None:
    config = Config(stores={"a": record("a")})
    config.app.application_id = "amzn1.sp.solution.x"
    config.app.client_id = "amzn1.application-oa2-client.y"
    config.app.redirect_uri = "https://agency.example/soldscope/"
    config.app.client_secret_set_at = NOW - timedelta(days=3)
    write_config(tmp_path, config)
    store = MemorySecretStore({CLIENT_SECRET_KEY: "s"})
    results = run_doctor(inputs(tmp_path, store=store, env=DESKTOP_ENV))
    assert {r.id: r.status for r in results if r.status is not Level.OK} == {"network": Level.SKIP}
    assert exit_code(results) == 0


def test_invalid_config_skips_what_depends_on_it(tmp_path: Path) -> None:
    p = paths(tmp_path)
    p.config_dir.mkdir()
    p.config_file.write_text("[app\n")
    found = by_id(run_doctor(inputs(tmp_path)))
    assert found["config"].status is Level.FAIL
    assert found["app"].status is Level.SKIP and found["stores"].status is Level.SKIP


def test_overall_deadline_bounds_a_check_that_ignores_its_timeout(tmp_path: Path) -> None:
    store = HangingStore()
    started = time.monotonic()
    results = run_doctor(inputs(tmp_path, store=store, secret_timeout=30.0, overall_timeout=0.3))
    store.release.set()
    assert time.monotonic() - started < 3
    secret = by_id(results)["secret-store"]
    assert secret.status is Level.FAIL
    assert secret.detail == "the check did not finish within 0.3 s"


def _results() -> list[CheckResult]:
    return [
        CheckResult("a", "Alpha", Level.OK, "fine", None),
        CheckResult("b", "Beta", Level.WARN, "meh", "do this"),
        CheckResult("c", "Gamma", Level.FAIL, "broken", "run that"),
        CheckResult("d", "Delta", Level.SKIP, "not checked", None),
    ]


class _Ascii(io.StringIO):
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "ascii"


def _ctx(tmp_path: Path, stdout: io.StringIO, tty: bool = False) -> AppContext:
    return AppContext(
        env={},
        paths=paths(tmp_path),
        clock=FakeClock(),
        stdout=stdout,
        stderr=io.StringIO(),
        stdin_tty=tty,
        stdout_tty=tty,
        stderr_tty=tty,
        secret_store_override=MemorySecretStore(),
    )


def test_render_plain_with_fixes_and_tally(tmp_path: Path) -> None:
    out = io.StringIO()
    render_text(_ctx(tmp_path, out), _results())
    assert out.getvalue() == (
        "✓ Alpha: fine\n"
        "! Beta: meh\n"
        "    fix: do this\n"
        "✗ Gamma: broken\n"
        "    fix: run that\n"
        "- Delta: not checked\n"
        "1 failed, 1 warning, 1 ok, 1 skipped\n"
    )


def test_render_ascii_when_the_terminal_cannot_show_symbols(tmp_path: Path) -> None:
    out = _Ascii()
    assert not can_encode(out, "✓")
    render_text(_ctx(tmp_path, out), _results())
    lines = out.getvalue().splitlines()
    assert lines[0] == "ok   Alpha: fine"
    assert lines[3] == "FAIL Gamma: broken"
    assert set(ASCII_SYMBOLS.values()) >= {"warn", "skip"}


def test_render_tty_uses_rich(tmp_path: Path) -> None:
    out = io.StringIO()
    ctx = _ctx(tmp_path, out, tty=True)
    render_text(ctx, _results())
    text = out.getvalue()
    assert "\x1b[" in text  # coloured on a terminal
    assert "fix: run that" in text
    assert tally(_results()) in text


def _cli() -> typer.Typer:
    # The command as the root app registers it, without depending on that registration.
    app = typer.Typer()
    app.command("doctor")(doctor_command)

    @app.callback()
    def root() -> None:
        """soldscope"""

    return app


def test_command_json_shape_and_exit_code(tmp_path: Path) -> None:
    out = io.StringIO()
    ctx = _ctx(tmp_path, out)
    result = CliRunner().invoke(_cli(), ["doctor", "--json", "--offline"], obj=ctx)
    assert result.exit_code == 1  # a fresh machine: the app is not configured
    data = json.loads(out.getvalue())
    assert [item["id"] for item in data] == [*FRESH_IDS, "notify"]  # the real alert-target check
    assert data[-1]["status"] == "skip" and "no alert targets" in data[-1]["detail"]
    assert data[FRESH_IDS.index("app")] == {
        "id": "app",
        "title": "App credentials",
        "status": "fail",
        "detail": "the SP-API app is not configured: missing application id, LWA client id",
        "fix": "run `soldscope app set --app-id amzn1.sp.solution.… "
        "--client-id amzn1.application-oa2-client.…` (see docs/app.md)",
    }
    assert data[FRESH_IDS.index("network")]["status"] == "skip"


def test_command_text_never_prints_the_client_secret(tmp_path: Path) -> None:
    out = io.StringIO()
    ctx = _ctx(tmp_path, out)
    ctx.env = {
        "SOLDSCOPE_APP_ID": "amzn1.sp.solution.x",
        "SOLDSCOPE_LWA_CLIENT_ID": "amzn1.application-oa2-client.y",
        "SOLDSCOPE_LWA_CLIENT_SECRET": "very-secret-value",
        "SOLDSCOPE_REDIRECT_URI": "https://agency.example/cb",
    }
    result = CliRunner().invoke(_cli(), ["doctor", "--offline"], obj=ctx)
    assert result.exit_code == 0, out.getvalue()
    assert "very-secret-value" not in out.getvalue()
    assert "client secret (env SOLDSCOPE_LWA_CLIENT_SECRET)" in out.getvalue()
    assert (
        out.getvalue().rstrip().endswith("2 skipped")
    )  # network (--offline), alert targets (none)


def test_stores_check_survives_a_corrupt_database(tmp_path: Path) -> None:
    db_path = tmp_path / "soldscope.db"
    db_path.write_bytes(b"not a database" * 64)
    results = by_id(
        check_stores(Config(stores={"fine": record("fine")}), LOCAL_FILE.states(db_path), NOW)
    )
    assert results["stores"].status is Level.OK
    assert "check history unreadable" in results["stores"].detail


def test_alert_targets_each_get_a_line_and_a_failed_delivery_warns(tmp_path: Path) -> None:
    from soldscope_cli.doctor.model import AlertTarget

    targets = [
        AlertTarget("target 1 (json)", True, "ok", "2026-03-01T10:00:00+00:00"),
        AlertTarget("target 2 (slack)", True, "failed", "2026-03-01T10:00:00+00:00", "timeout"),
        AlertTarget("target 3 (nope)", False),
        AlertTarget("target 4 (mailto)", True),
    ]
    seen: list[Config] = []

    def read(config: Config) -> list[AlertTarget]:
        seen.append(config)
        return targets

    results = by_id(run_doctor(inputs(tmp_path, alert_targets=read)))
    assert len(seen) == 1
    assert results["notify:1"].status is Level.OK
    assert "last delivered at 2026-03-01" in results["notify:1"].detail
    assert results["notify:2"].status is Level.WARN
    assert "failed: timeout" in results["notify:2"].detail
    assert (
        results["notify:2"].fix is not None and "soldscope notify test" in results["notify:2"].fix
    )
    assert results["notify:3"].status is Level.FAIL
    assert results["notify:4"].status is Level.OK and "nothing has been sent" in (
        results["notify:4"].detail
    )
    # the report never holds a URL: the check only ever sees labels
    assert all("://" not in r.detail for r in results.values() if r.id.startswith("notify"))
