"""The shared httpx client: timeouts, pool size, proxies, CA bundle and Amazon's User-Agent."""

from __future__ import annotations

import os
import platform
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import certifi
import httpx

from soldscope_cli import __version__
from soldscope_cli.errors import ConfigError

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=30.0, write=30.0, pool=30.0)
# Workers share one client; a worker holds at most one connection at a time, plus some headroom for
# report downloads running beside API calls.
POOL_SIZE = 16
DEFAULT_LIMITS = httpx.Limits(max_connections=POOL_SIZE + 4, max_keepalive_connections=POOL_SIZE)

# Amazon caps the User-Agent at 500 characters.
# https://developer-docs.amazon.com/sp-api/docs/include-a-user-agent-header-in-all-requests
USER_AGENT_MAX = 500

# In order of precedence: httpx's own variables, then the ones requests and curl users already set.
CA_BUNDLE_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
PROXY_VARS = ("https_proxy", "http_proxy", "all_proxy", "no_proxy")


def user_agent() -> str:
    """The User-Agent Amazon asks for: AppName/Version (Language=...; Platform=...)."""
    system = platform.system() or "unknown"
    python = platform.python_version()
    agent = f"soldscope/{__version__} (Language=Python/{python}; Platform={system})"
    return agent[:USER_AGENT_MAX]


def ca_bundle_from_env(env: Mapping[str, str]) -> tuple[str, str] | None:
    """The (variable, path) of the CA bundle the environment asks for, or None for the default."""
    for name in CA_BUNDLE_VARS:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return None


def ssl_context_from_env(env: Mapping[str, str]) -> ssl.SSLContext | None:
    """An SSL context trusting the environment's CA bundle, or None to keep httpx's default."""
    found = ca_bundle_from_env(env)
    if found is None:
        return None
    name, path = found
    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load the CA bundle {name}={path}: {exc.strerror or exc}",
            hint=f"point {name} at a readable PEM file or directory, or unset it",
        ) from exc


def make_http_client(
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: httpx.Timeout | None = None,
    env: Mapping[str, str] | None = None,
) -> httpx.Client:
    """A thread-safe httpx client for LWA, SP-API and report downloads."""
    source = os.environ if env is None else env
    register_proxy_passwords(source)
    verify: ssl.SSLContext | bool = True
    if transport is None:
        verify = ssl_context_from_env(source) or True
    return httpx.Client(
        transport=transport,
        timeout=timeout or DEFAULT_TIMEOUT,
        limits=DEFAULT_LIMITS,
        headers={"User-Agent": user_agent()},
        # trust_env lets HTTP(S)_PROXY, NO_PROXY, SSL_CERT_FILE and SSL_CERT_DIR work as usual.
        trust_env=True,
        verify=verify,
    )


def register_proxy_passwords(env: Mapping[str, str]) -> None:
    """Proxy URLs may carry a password; redaction must remove it from any error or debug line."""
    from soldscope_cli.redact import register_secret

    for name, value in env.items():
        if name.lower() not in PROXY_VARS or name.lower() == "no_proxy":
            continue
        try:
            password = urlsplit(value).password
        except ValueError:
            continue
        if password:
            register_secret(password)


def _hide_password(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable)"
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def describe_network_env(env: Mapping[str, str]) -> dict[str, object]:
    """The proxies and CA bundle in effect, proxy passwords hidden (for `doctor`)."""
    proxies: dict[str, str] = {}
    for name in PROXY_VARS:
        # Lower case wins, as in urllib.request.getproxies_environment, which httpx uses.
        for variant in (name, name.upper()):
            value = env.get(variant, "").strip()
            if value:
                proxies[name] = value if name == "no_proxy" else _hide_password(value)
                break
    found = ca_bundle_from_env(env)
    if found is None:
        path = certifi.where()
        ca: dict[str, object] = {"source": "default", "path": path, "exists": os.path.exists(path)}
    else:
        name, path = found
        ca = {"source": name, "path": path, "exists": os.path.exists(path)}
    return {"proxies": proxies, "ca_bundle": ca, "user_agent": user_agent()}
