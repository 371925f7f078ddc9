"""Opaque, tamper-evident tokens (pagination, presigned URLs) and the ids Amazon-style values use."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
from typing import Any

_ALNUM = string.ascii_letters + string.digits


class Signer:
    """Seals small JSON payloads with an HMAC so clients cannot forge or edit them."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def seal(self, payload: dict[str, Any]) -> str:
        """An opaque URL-safe token carrying `payload`."""
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return body + "." + self.sign(body)

    def open(self, token: str) -> dict[str, Any] | None:
        """The payload of a token this signer sealed, or None for anything else."""
        body, _, signature = token.partition(".")
        if not body or not hmac.compare_digest(signature, self.sign(body)):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None

    def sign(self, text: str) -> str:
        """Hex HMAC-SHA256 of a string."""
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def oauth_code() -> str:
    """An spapi_oauth_code-like value (Amazon's are 20 letters and digits)."""
    return "".join(secrets.choice(_ALNUM) for _ in range(20))


def access_token() -> str:
    """An LWA access token ("Atza|...")."""
    return "Atza|IwEBI" + secrets.token_urlsafe(96)


def refresh_token() -> str:
    """An LWA refresh token ("Atzr|...")."""
    return "Atzr|IwEBI" + secrets.token_urlsafe(144)


def request_id() -> str:
    """An x-amzn-RequestId value."""
    hexed = secrets.token_hex(16)
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"


def stable_hash(*parts: object) -> int:
    """A 64-bit hash that is the same in every process (unlike hash())."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def stable_id(*parts: object, length: int = 43) -> str:
    """A deterministic URL-safe identifier (transactionId-like) derived from `parts`."""
    text = "|".join(str(p) for p in parts).encode()
    return _b64(hashlib.blake2b(text, digest_size=32).digest())[:length]
