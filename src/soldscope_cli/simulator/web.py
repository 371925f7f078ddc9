"""Transport-free request and response values, so every route can be exercised without sockets."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    """One HTTP request as the routes see it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    base_url: str = ""

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def csv(self, name: str) -> list[str]:
        """An array query parameter: SP-API sends them comma-separated (Swagger csv); repeats too."""
        items: list[str] = []
        for value in self.query.get(name, []):
            items.extend(part.strip() for part in value.split(",") if part.strip())
        return items

    def form(self) -> dict[str, str]:
        """The form-encoded body (first value of each field)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def json(self) -> Any:
        """The JSON body; ValueError when it is not JSON."""
        if not self.body.strip():
            return {}
        return json.loads(self.body)


@dataclass
class Response:
    """A status, headers and a body; an iterable body is streamed with chunked encoding."""

    status: int
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def streamed(self) -> bool:
        return not isinstance(self.body, bytes)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": "application/json", **(headers or {})})


def spapi_error(status: int, code: str, message: str, details: str = "") -> Response:
    """SP-API's error shape: {"errors": [{"code", "message", "details"}]}."""
    return json_response(
        status, {"errors": [{"code": code, "message": message, "details": details}]}
    )


def html_response(status: int, title: str, body_html: str) -> Response:
    """A small standalone HTML page."""
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:3em auto}"
        "button{font-size:1em;padding:.4em 1.2em;margin-right:1em}</style></head>"
        f"<body>{body_html}</body></html>\n"
    )
    return Response(status, page.encode(), {"Content-Type": "text/html; charset=utf-8"})


def redirect(location: str) -> Response:
    """A 302 Found to `location`."""
    return Response(302, b"", {"Location": location})
