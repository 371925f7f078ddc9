"""Which Amazon hosts to talk to: production, sandbox, or the overrides scripts and tests set."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from soldscope_cli.amazon.marketplaces import (
    BY_CODE,
    LWA_TOKEN_URL,
    REGION_SELLER_CENTRAL,
    SANDBOX_HOSTS,
    SPAPI_HOSTS,
    Region,
)

LWA_URL_ENV = "SOLDSCOPE_LWA_URL"
SPAPI_URL_ENV = "SOLDSCOPE_SPAPI_URL"
SELLER_CENTRAL_URL_ENV = "SOLDSCOPE_SELLER_CENTRAL_URL"
SANDBOX_ENV = "SOLDSCOPE_SANDBOX"
# Hosts that are this machine: only the local simulator is served there over plain http.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback_http(uri: str) -> bool:
    """http://127.0.0.1:PORT/..., http://localhost..., http://[::1]... (the simulator's URIs)."""
    try:
        parts = urlsplit(uri.strip())
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme.lower() == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


@dataclass(frozen=True)
class Endpoints:
    """Resolved endpoint configuration; the overrides win over sandbox, sandbox over production."""

    lwa_url: str = LWA_TOKEN_URL
    spapi_override: str | None = None
    seller_central_override: str | None = None
    sandbox: bool = False

    def spapi_base(self, region: Region) -> str:
        """Base URL of the SP-API for a region (no trailing slash)."""
        if self.spapi_override:
            return self.spapi_override.rstrip("/")
        return (SANDBOX_HOSTS if self.sandbox else SPAPI_HOSTS)[region]

    def seller_central_base(self, *, region: Region, marketplace: str | None = None) -> str:
        """Base URL of the Seller Central consent page for a marketplace (or a region's main host)."""
        if self.seller_central_override:
            return self.seller_central_override.rstrip("/")
        host = BY_CODE[marketplace].seller_central if marketplace else REGION_SELLER_CENTRAL[region]
        return f"https://{host}"

    @property
    def overridden(self) -> bool:
        return bool(
            self.spapi_override or self.seller_central_override or self.lwa_url != LWA_TOKEN_URL
        )


def truthy(value: str | None) -> bool:
    """Environment-variable truthiness: 1/true/yes/on."""
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def resolve_endpoints(env: Mapping[str, str], *, sandbox: bool = False) -> Endpoints:
    """Endpoints from the environment (SOLDSCOPE_LWA_URL, SOLDSCOPE_SPAPI_URL, ...)."""
    return Endpoints(
        lwa_url=env.get(LWA_URL_ENV) or LWA_TOKEN_URL,
        spapi_override=env.get(SPAPI_URL_ENV) or None,
        seller_central_override=env.get(SELLER_CENTRAL_URL_ENV) or None,
        sandbox=sandbox or truthy(env.get(SANDBOX_ENV)),
    )
