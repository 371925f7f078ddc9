"""The shared httpx client: User-Agent, timeouts, pool, CA bundle and proxy description."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import certifi
import httpx
import pytest
from pytest_httpx import HTTPXMock

from soldscope_cli import __version__
from soldscope_cli.amazon.http import (
    describe_network_env,
    make_http_client,
    ssl_context_from_env,
    user_agent,
)
from soldscope_cli.errors import ConfigError

UA_PATTERN = re.compile(
    r"^soldscope/(?P<version>[^ ]+) \(Language=Python/(?P<py>\d+\.\d+\.\d+\S*); "
    r"Platform=(?P<platform>[^)]+)\)$"
)


def _first_certificate(tmp_path: Path) -> Path:
    pem = Path(certifi.where()).read_text(encoding="ascii")
    end = "-----END CERTIFICATE-----"
    one = pem[pem.index("-----BEGIN CERTIFICATE-----") : pem.index(end) + len(end)]
    path = tmp_path / "corporate-ca.pem"
    path.write_text(one + "\n", encoding="ascii")
    return path


def test_user_agent_has_amazons_shape() -> None:
    agent = user_agent()
    match = UA_PATTERN.match(agent)
    assert match, agent
    assert match["version"] == __version__
    assert match["py"] == platform.python_version()
    assert match["platform"] == (platform.system() or "unknown")
    assert len(agent) <= 500


def test_user_agent_is_cut_at_500_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "system", lambda: "X" * 600)
    assert len(user_agent()) == 500


def test_client_defaults() -> None:
    with make_http_client(env={}) as client:
        assert client.timeout == httpx.Timeout(connect=10.0, read=30.0, write=30.0, pool=30.0)
        assert client.headers["User-Agent"] == user_agent()
        assert client.trust_env is True
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert pool._max_connections >= 16
        assert pool._max_keepalive_connections >= 16


def test_client_accepts_a_timeout() -> None:
    timeout = httpx.Timeout(5.0)
    with make_http_client(timeout=timeout, env={}) as client:
        assert client.timeout == timeout


def test_requests_carry_the_user_agent(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://sellingpartnerapi-na.amazon.com/ping", text="ok")
    with make_http_client(env={}) as client:
        client.get("https://sellingpartnerapi-na.amazon.com/ping")
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["User-Agent"] == user_agent()


def test_custom_transport_is_used() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(204, headers={"x-seen-ua": request.headers["User-Agent"]})

    with make_http_client(transport=httpx.MockTransport(handler)) as client:
        response = client.get("https://example.invalid/")
    assert response.status_code == 204
    assert response.headers["x-seen-ua"] == user_agent()


def test_no_ca_variables_keeps_the_default() -> None:
    assert ssl_context_from_env({}) is None


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_ca_bundle_file_from_environment(tmp_path: Path, variable: str) -> None:
    bundle = _first_certificate(tmp_path)
    context = ssl_context_from_env({variable: str(bundle)})
    assert context is not None
    assert context.cert_store_stats()["x509_ca"] == 1


def test_ca_bundle_precedence(tmp_path: Path) -> None:
    bundle = _first_certificate(tmp_path)
    env = {"SSL_CERT_FILE": str(bundle), "REQUESTS_CA_BUNDLE": certifi.where()}
    context = ssl_context_from_env(env)
    assert context is not None
    assert context.cert_store_stats()["x509_ca"] == 1


def test_ca_directory_is_accepted(tmp_path: Path) -> None:
    assert ssl_context_from_env({"REQUESTS_CA_BUNDLE": str(tmp_path)}) is not None


def test_unreadable_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError) as caught:
        make_http_client(env={"REQUESTS_CA_BUNDLE": str(missing)})
    assert "REQUESTS_CA_BUNDLE" in str(caught.value)
    assert caught.value.hint is not None


def test_client_trusts_the_environment_bundle(tmp_path: Path) -> None:
    bundle = _first_certificate(tmp_path)
    with make_http_client(env={"CURL_CA_BUNDLE": str(bundle)}) as client:
        context = client._transport._pool._ssl_context  # type: ignore[attr-defined]
        assert context.cert_store_stats()["x509_ca"] == 1


def test_describe_network_env_hides_proxy_passwords(tmp_path: Path) -> None:
    bundle = _first_certificate(tmp_path)
    env = {
        "HTTPS_PROXY": "http://agency:s3cret@proxy.corp:3128",
        "https_proxy": "http://me:pw@lower.corp:8080",
        "HTTP_PROXY": "http://proxy.corp:3128",
        "NO_PROXY": "localhost,127.0.0.1",
        "REQUESTS_CA_BUNDLE": str(bundle),
    }
    info = describe_network_env(env)
    assert info == {
        "proxies": {
            "https_proxy": "http://me:***@lower.corp:8080",
            "http_proxy": "http://proxy.corp:3128",
            "no_proxy": "localhost,127.0.0.1",
        },
        "ca_bundle": {"source": "REQUESTS_CA_BUNDLE", "path": str(bundle), "exists": True},
        "user_agent": user_agent(),
    }
    assert "s3cret" not in repr(info)
    assert "pw@" not in repr(info)


def test_describe_network_env_defaults_and_missing_bundle(tmp_path: Path) -> None:
    assert describe_network_env({}) == {
        "proxies": {},
        "ca_bundle": {"source": "default", "path": certifi.where(), "exists": True},
        "user_agent": user_agent(),
    }
    missing = str(tmp_path / "gone.pem")
    info = describe_network_env({"SSL_CERT_FILE": missing})
    assert info["ca_bundle"] == {"source": "SSL_CERT_FILE", "path": missing, "exists": False}


def test_proxy_passwords_are_redacted_once_a_client_is_made() -> None:
    from soldscope_cli.amazon.http import make_http_client
    from soldscope_cli.redact import redact

    env = {"HTTPS_PROXY": "http://agency:pr0xy-s3cret-pw@proxy.example:3128"}
    make_http_client(env=env, transport=httpx.MockTransport(lambda r: httpx.Response(200))).close()
    line = "ProxyError: http://agency:pr0xy-s3cret-pw@proxy.example:3128 refused"
    assert "pr0xy-s3cret-pw" not in redact(line)
