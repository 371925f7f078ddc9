"""Database URLs: which ones are PostgreSQL's, and how one is shown without its password."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
MASK = "***"


EXAMPLE = "postgresql://user@host:5432/dbname"
EXAMPLE_IPV6 = "postgresql://user@[::1]:5432/dbname"


def is_postgres_url(url: str) -> bool:
    """True for postgresql:// and postgres:// URLs (libpq's two spellings)."""
    scheme, sep, _ = url.partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def url_problem(url: str) -> str | None:
    """Why a postgresql:// URL cannot be parsed (an unclosed IPv6 bracket, a port that is not a
    number), without repeating the URL (it may hold a password); None when it parses."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (parsing the port is the check)
    except ValueError as exc:
        return (
            f"database url is malformed ({exc}): write it as {EXAMPLE}, an IPv6 address in "
            f"brackets ({EXAMPLE_IPV6}), and a password's special characters %-encoded"
        )
    return None


def url_password(url: str) -> str | None:
    """The password a URL carries (in its authority or as ?password=), decoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.password:
        return unquote(parts.password)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "password" and value:
            return value
    return None


def masked_url(url: str) -> str:
    """The URL as it may be printed: any password replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"{url.partition('://')[0]}://{MASK} (malformed)"
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if k == "password" else v) for k, v in pairs], safe="*/:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
