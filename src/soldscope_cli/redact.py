"""Scrub Amazon tokens, client secrets and registered secret values from text bound for logs."""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"

# LWA access tokens start "Atza|", refresh tokens "Atzr|" and client secrets "amzn1.oa2-cs.v1.";
# form-encoded request bodies carry the "|" as "%7C".
# https://developer-docs.amazon.com/sp-api/docs/connecting-to-the-selling-partner-api
_PATTERNS: tuple[re.Pattern[str], ...] = (
    # (?!\[REDACTED\]): a registered value already replaced keeps its prefix and one marker.
    re.compile(r"(Atz[ar](?:\||%7[Cc]))(?!\[REDACTED\])[^\s\"'&,;<>)\]}]+"),
    # Everything up to a delimiter: a client secret with a "-" or "_" must not keep its tail.
    re.compile(r"(amzn1\.oa2-cs\.v1\.)(?!\[REDACTED\])[^\s\"'&,;<>)\]}]+"),
    # Query and form parameters that carry secrets whatever their shape: the consent's
    # authorization code (in callback URLs an HTTP client logs) and LWA form fields.
    re.compile(
        r"((?:^|[?&\s\"'])(?:spapi_oauth_code|code|refresh_token|access_token|client_secret)=)"
        r"[^\s\"'&#<>]+"
    ),
    # A report document's presigned URL (httpx logs every request it makes under --debug): its
    # signature, credential and session token are a live key to the document for minutes.
    # https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
    re.compile(
        r"((?:^|[?&])(?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature)=)"
        r"[^\s\"'&#<>]+",
        re.IGNORECASE,
    ),
)

# Shorter values would shred ordinary words in log lines; real secrets are far longer.
MIN_SECRET_LENGTH = 6


class SecretRegistry:
    """A thread-safe set of secret values that redaction must remove wherever they appear."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._ordered: tuple[str, ...] = ()

    def register(self, value: str) -> None:
        """Remember a secret value (and its URL-encoded forms) so redaction removes it."""
        if len(value) < MIN_SECRET_LENGTH:
            return
        forms = {value, quote(value, safe=""), quote_plus(value)}
        with self._lock:
            if forms <= self._values:
                return
            self._values |= forms
            # Longest first, so a secret containing another one is removed whole.
            self._ordered = tuple(sorted(self._values, key=len, reverse=True))

    def clear(self) -> None:
        """Forget every registered value."""
        with self._lock:
            self._values.clear()
            self._ordered = ()

    def redact(self, text: str) -> str:
        """The text with registered values, then token patterns, replaced by a marker.

        Registered values go first: a pattern that ran first would replace part of a value (the
        `amzn1.oa2-cs.v1.` prefix and what follows up to its first "-") and leave the rest of it
        unrecognisable. Every occurrence of every value is marked before anything is replaced, so
        values that contain or overlap each other are removed whole.
        """
        text = _remove_values(text, self._ordered)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text

    def __repr__(self) -> str:
        return f"SecretRegistry({len(self._ordered)} values)"


# The shape prefixes say what was there and are no secret: a removed value keeps its own.
_SHAPE_PREFIX = re.compile(r"^(?:Atz[ar](?:\||%7[Cc])|amzn1\.oa2-cs\.v1\.)")


def _marker(removed: str) -> str:
    prefix = _SHAPE_PREFIX.match(removed)
    return (prefix.group(0) if prefix else "") + REDACTED


def _remove_values(text: str, values: tuple[str, ...]) -> str:
    """Replace each run of characters covered by an occurrence of any value with one marker."""
    spans: list[tuple[int, int]] = []
    for value in values:  # plain substring search: metacharacters in a value mean nothing
        start = text.find(value)
        while start != -1:
            spans.append((start, start + len(value)))
            start = text.find(value, start + 1)
    if not spans:
        return text
    spans.sort()
    pieces: list[str] = []
    done = 0
    run_start, run_end = spans[0]
    for start, end in spans[1:]:
        if start <= run_end:
            run_end = max(run_end, end)
            continue
        pieces += [text[done:run_start], _marker(text[run_start:run_end])]
        done, run_start, run_end = run_end, start, end
    pieces += [text[done:run_start], _marker(text[run_start:run_end]), text[run_end:]]
    return "".join(pieces)


DEFAULT_REGISTRY = SecretRegistry()


def register_secret(value: str) -> None:
    """Register a secret value with the process-wide registry used by `redact`."""
    DEFAULT_REGISTRY.register(value)


def redact(text: str) -> str:
    """Text safe for debug logs: tokens, client secrets and registered secrets removed."""
    return DEFAULT_REGISTRY.redact(text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message and formatted traceback."""

    def __init__(self, registry: SecretRegistry | None = None) -> None:
        super().__init__()
        self._registry = registry if registry is not None else DEFAULT_REGISTRY

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        record.msg = self._registry.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._registry.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._registry.redact(record.stack_info)
        return True
