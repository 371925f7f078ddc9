"""Network checks: proxies and CA bundle, DNS and TLS to Amazon's hosts, and clock skew."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from soldscope_cli.amazon.endpoints import LOOPBACK_HOSTS
from soldscope_cli.amazon.headers import parse_http_date
from soldscope_cli.doctor.model import CheckResult, Level, TimedOut, bounded
from soldscope_cli.redact import redact

if TYPE_CHECKING:
    import httpx

# LWA tokens and SP-API requests carry timestamps; Amazon refuses them when the clock is off by
# more than about five minutes, and a minute is already more than NTP ever lets through.
SKEW_FAIL = timedelta(minutes=5)
SKEW_WARN = timedelta(minutes=1)
CA_FIX = (
    "behind a TLS-inspecting proxy, point SSL_CERT_FILE at a PEM file holding its CA "
    "certificate (or the system bundle, e.g. /etc/ssl/certs/ca-certificates.crt)"
)


@dataclass(frozen=True)
class Target:
    """One origin to reach, and what soldscope uses it for."""

    url: str
    roles: tuple[str, ...]

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Reached:
    """What a probe of one target learned."""

    target: Target
    result: CheckResult
    date: datetime | None = None  # the server's Date header
    local: datetime | None = None  # our clock halfway through the request
    notes: list[str] = field(default_factory=list)


def targets(lwa_url: str, spapi_bases: Mapping[str, str]) -> list[Target]:
    """LWA plus the SP-API base of each region in use, one target per origin."""
    by_origin: dict[str, tuple[str, list[str]]] = {}
    for role, url in [("Login with Amazon", lwa_url)] + [
        (f"SP-API {region}", base) for region, base in sorted(spapi_bases.items())
    ]:
        probe = Target(url, ())
        if probe.origin in by_origin:
            by_origin[probe.origin][1].append(role)
        else:
            by_origin[probe.origin] = (url, [role])
    return [Target(url, tuple(roles)) for url, roles in by_origin.values()]


def proxy_for(url: str, proxies: Mapping[str, str]) -> str | None:
    """The proxy (as describe_network_env shows it) httpx would use for url, honouring no_proxy."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    for entry in (e.strip().lower() for e in proxies.get("no_proxy", "").split(",")):
        if not entry:
            continue
        if entry == "*":
            return None
        entry = entry.split(":")[0].lstrip(".")
        if host == entry or host.endswith("." + entry):
            return None
    key = "https_proxy" if parts.scheme == "https" else "http_proxy"
    return proxies.get(key) or proxies.get("all_proxy")


def check_network_env(description: Mapping[str, object]) -> CheckResult:
    """The proxies and CA bundle in effect (from http.describe_network_env)."""
    title = "Proxy and CA bundle"
    proxies = description.get("proxies")
    ca = description.get("ca_bundle")
    assert isinstance(proxies, dict) and isinstance(ca, dict)
    shown = ", ".join(f"{k}={v}" for k, v in proxies.items()) or "no proxy"
    ca_text = f"CA bundle {ca['path']} ({ca['source']})"
    if not ca.get("exists"):
        return CheckResult(
            "network-env",
            title,
            Level.FAIL,
            f"{shown}; {ca_text} does not exist",
            f"point {ca['source']} at a readable PEM file, or unset it"
            if ca["source"] != "default"
            else "reinstall certifi: `pipx reinstall soldscope-cli`",
        )
    return CheckResult("network-env", title, Level.OK, f"{shown}; {ca_text}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _label(target: Target) -> str:
    return f"{' + '.join(target.roles)} ({target.origin})"


def probe_target(
    target: Target,
    client: httpx.Client,
    resolver: Callable[[str, int], list[str]],
    clock: Callable[[], datetime],
    monotonic: Callable[[], float],
    proxies: Mapping[str, str],
    timeout: float,
    index: int,
) -> Reached:
    """DNS, then TLS and one GET; any HTTP answer means the host is reachable."""
    import httpx

    check_id = f"network:{target.host}:{target.port}"
    title = f"Reach {_label(target)}"
    proxy = proxy_for(target.url, proxies)

    def failed(detail: str, fix: str) -> Reached:
        return Reached(target, CheckResult(check_id, title, Level.FAIL, detail, fix))

    scheme = urlsplit(target.url).scheme
    notes: list[str] = []
    if scheme == "http" and target.host not in LOOPBACK_HOSTS:
        notes.append("plain http: tokens would cross the network unencrypted")
    if proxy:
        notes.append(f"via proxy {proxy}")
    if _is_ip(target.host):
        addresses = ""  # nothing to resolve
    else:
        try:
            found = bounded(lambda: resolver(target.host, target.port), timeout, f"dns-{index}")
            addresses = ", ".join(found[:3])
        except Exception as exc:
            reason = "no answer" if isinstance(exc, TimedOut) else str(exc) or type(exc).__name__
            if not proxy:
                return failed(
                    f"DNS: cannot resolve {target.host}: {reason}",
                    "check the resolver (/etc/resolv.conf, VPN) or set https_proxy if this "
                    "network only reaches the internet through a proxy",
                )
            addresses = ""
            notes.append(f"{target.host} does not resolve here ({reason}); the proxy resolves it")
    started = monotonic()
    before = clock()
    try:
        response = client.get(target.url)
    except httpx.TimeoutException:
        return failed(
            f"no answer within {timeout:g} s" + (f" ({'; '.join(notes)})" if notes else ""),
            "check the firewall and proxy settings (https_proxy, no_proxy)",
        )
    except httpx.ProxyError as exc:
        return failed(
            f"the proxy {proxy} refused: {redact(str(exc))}",
            "check https_proxy (address, credentials) and no_proxy",
        )
    except httpx.TransportError as exc:
        text = redact(str(exc))
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return failed(f"TLS: certificate not trusted: {text}", CA_FIX)
        return failed(
            f"cannot connect: {text or type(exc).__name__}",
            "check the network, firewall and proxy settings (https_proxy, no_proxy)",
        )
    elapsed_ms = (monotonic() - started) * 1000
    after = clock()
    parts = []
    if addresses:
        parts.append(f"DNS {addresses}")
    parts.append("TLS verified" if scheme == "https" else "plain http")
    parts.append(f"HTTP {response.status_code} in {elapsed_ms:.0f} ms")
    detail = ", ".join(parts) + (f" ({'; '.join(notes)})" if notes else "")
    level = Level.WARN if scheme == "http" and target.host not in LOOPBACK_HOSTS else Level.OK
    fix = "use an https URL" if level is Level.WARN else None
    date = parse_http_date(response.headers.get("date"))
    return Reached(
        target,
        CheckResult(check_id, title, level, detail, fix),
        date=date,
        local=before + (after - before) / 2,
    )


def check_clock_skew(reached: Sequence[Reached]) -> CheckResult:
    """This machine's clock against the first server Date header seen (LWA's, when it answered)."""
    title = "Clock"
    for item in reached:
        if item.date is None or item.local is None:
            continue
        # Date has whole seconds: the server's time was somewhere in [date, date + 1 s).
        # Subtract first: a Date near year 9999 plus half a second would overflow.
        skew = (item.local - item.date) - timedelta(milliseconds=500)
        seconds = skew.total_seconds()
        direction = "ahead of" if seconds > 0 else "behind"
        detail = f"{abs(seconds):.0f} s {direction} {item.target.host} (its Date header)"
        fix = "synchronise the clock: `timedatectl set-ntp true` (systemd) or install chrony/ntpd"
        if abs(skew) > SKEW_FAIL:
            return CheckResult(
                "clock-skew",
                title,
                Level.FAIL,
                detail + ": Amazon refuses tokens and requests this far off",
                fix,
            )
        if abs(skew) > SKEW_WARN:
            return CheckResult(
                "clock-skew", title, Level.WARN, detail + ": more than a minute off", fix
            )
        return CheckResult("clock-skew", title, Level.OK, detail)
    return CheckResult(
        "clock-skew",
        title,
        Level.SKIP,
        "not measured: no server answered with a Date header",
    )
