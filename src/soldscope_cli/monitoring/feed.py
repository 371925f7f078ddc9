"""The calendar feed's secret URL: `<public URL>/calendar/<token>.ics`, served by `serve`.

The token is derived from a key of its own in the secret store, not from the invitation key, so
replacing it (`soldscope calendar --new-url`) retires a leaked feed URL without touching any
invitation link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable

from soldscope_cli.onboarding.invitations import public_url_of
from soldscope_cli.services import Services

FEED_PATH = "/calendar/"
SUFFIX = ".ics"
_CONTEXT = b"soldscope-calendar-feed"
KEY_TTL_SECONDS = 1.0
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{43}\.ics")  # an unpadded SHA-256 digest, then .ics


def _token(key: str) -> str:
    digest = hmac.new(key.encode(), _CONTEXT, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def feed_url(services: Services, *, renew: bool = False) -> str:
    """The subscription URL, its key created on first use (or replaced when renewing)."""
    from soldscope_cli.fleet.secrets import CALENDAR_KEY

    public_url = public_url_of(services)  # a missing public URL stops here, before any write
    store = services.secret_store()
    key = None if renew else store.get(CALENDAR_KEY)
    if not key:
        key = secrets.token_urlsafe(32)
        store.set(CALENDAR_KEY, key)
    return f"{public_url.rstrip('/')}{FEED_PATH}{_token(key)}{SUFFIX}"


class FeedKeyBusy(Exception):
    """The feed key is being read for the first time by another request."""


class FeedTokens:
    """What serve checks a presented feed token against, without the secret store on every request.

    A token that cannot be one (not 43 URL-safe base64 characters and `.ics`) is refused before
    anything is read. The key is then read at most once per `ttl` seconds and by one request at a
    time (others answer from the key already read), so anonymous requests can neither flood a
    slow secret store nor tie up serve's threads waiting on it; a URL replaced with
    `calendar --new-url` stops working within `ttl` seconds.
    """

    def __init__(
        self, services: Services, monotonic: Callable[[], float], ttl: float = KEY_TTL_SECONDS
    ) -> None:
        self._services = services
        self._monotonic = monotonic
        self._ttl = ttl
        self._lock = threading.Lock()
        self._key: str | None = None
        self._read_at: float | None = None

    def matches(self, presented: str) -> bool:
        """Whether `presented` (the path's last part) is the current feed's token."""
        if not well_formed(presented):
            return False
        key = self._current_key()
        return bool(key) and hmac.compare_digest(_token(key or ""), presented.removesuffix(SUFFIX))

    def _current_key(self) -> str | None:
        from soldscope_cli.fleet.secrets import CALENDAR_KEY

        read_at = self._read_at
        if read_at is not None and self._monotonic() - read_at < self._ttl:
            return self._key
        if not self._lock.acquire(blocking=False):
            if read_at is None:
                raise FeedKeyBusy
            return self._key
        try:
            self._key = self._services.secret_store().get(CALENDAR_KEY)
            self._read_at = self._monotonic()
        finally:
            self._lock.release()
        return self._key


def well_formed(presented: str) -> bool:
    """Whether `presented` has the shape of a feed token (`<43 URL-safe characters>.ics`)."""
    return _WELL_FORMED.fullmatch(presented) is not None
