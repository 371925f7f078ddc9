"""Where alerts go: Apprise URLs from SOLDSCOPE_NOTIFY_URLS and config.toml's [[notify]] tables."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from soldscope_cli.fleet.config import Config, NotifyTarget
from soldscope_cli.redact import register_secret

ENV_VAR = "SOLDSCOPE_NOTIFY_URLS"
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class Target:
    """One destination. `label` names it in output; the URL itself is a secret, never shown."""

    url: str
    label: str
    rule: NotifyTarget

    def wants(self, event: str, store: str | None) -> bool:
        return self.rule.wants(event, store)


def load_targets(env: Mapping[str, str], config: Config) -> list[Target]:
    """Every target, the environment's first; each URL and its credentials registered as secrets."""
    rules = [NotifyTarget(url) for url in _SEPARATORS.split(env.get(ENV_VAR, "")) if url]
    rules += config.notify
    targets: list[Target] = []
    for index, rule in enumerate(rules, start=1):
        register_url(rule.url)
        scheme = rule.url.partition("://")[0].lower() or "unknown"
        targets.append(Target(rule.url, f"target {index} ({scheme})", rule))
    return targets


def register_url(url: str) -> None:
    """Register the URL and every part of it that can be a credential (user, password, tokens).

    Apprise URLs carry secrets in many places: a password (mailto://user:pass@host), a token as
    the host or path (slack://TokenA/TokenB/TokenC, tgram://bottoken/chat) or a query value.
    """
    register_secret(url)
    try:
        parts = urlsplit(url)
        # The host as written: .hostname lower-cases it, and a token's case matters.
        host = parts.netloc.rpartition("@")[2].rsplit(":", 1)[0]
        pieces = [parts.username, parts.password, host]
    except ValueError:
        return
    pieces += [unquote(p) for p in parts.path.split("/")]
    pieces += [value for _, value in parse_qsl(parts.query)]
    for piece in pieces:
        if piece and not _plain_host(piece):
            register_secret(piece)


def _plain_host(piece: str) -> bool:
    """A dotted host name or an IP address names a server, not a credential."""
    return piece == "localhost" or bool(re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", piece))
