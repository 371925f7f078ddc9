"""The calendar feed's secret URL: `<public URL>/calendar/<token>.ics`, served by `serve`.

The token is derived from a key of its own in the secret store, not from the invitation key, so
replacing it (`soldscope calendar --new-url`) retires a leaked feed URL without touching any
invitation link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from soldscope_cli.onboarding.invitations import public_url_of
from soldscope_cli.services import Services

FEED_PATH = "/calendar/"
SUFFIX = ".ics"
_CONTEXT = b"soldscope-calendar-feed"


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


def feed_token_matches(services: Services, presented: str) -> bool:
    """Whether a request's token is the current feed's (no key yet: nothing matches)."""
    from soldscope_cli.fleet.secrets import CALENDAR_KEY

    key = services.secret_store().get(CALENDAR_KEY)
    if not key or not presented.endswith(SUFFIX):
        return False
    return hmac.compare_digest(_token(key), presented.removesuffix(SUFFIX))
