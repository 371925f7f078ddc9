"""Text from outside loses its control characters and escape sequences, whole, and nothing else."""

from __future__ import annotations

import pytest

from soldscope_cli.untrusted import is_printable, printable

CLEAR = "\x1b[2J\x1b[H"
LINK = "\x1b]8;;https://evil.example/\x1b\\click here\x1b]8;;\x1b\\"
TITLE = "\x1b]0;pwned\x07"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (f"{CLEAR}Access denied", "Access denied"),
        (f"see {LINK} now", "see click here now"),
        (f"{TITLE}Token expired", "Token expired"),
        ("red \x1b[31;1mALERT\x1b[0m end", "red ALERT end"),
        ("c1 \x9b2J csi and \x9d0;t\x9c osc", "c1 csi and osc"),
        ("line one\nline two\r\n\ttab", "line one line two tab"),
        ("bell\x07 nul\x00 del\x7f", "bell nul del"),
        ("\u202eevil\u202c txt", "evil txt"),
        ("Grüße, 東京 — ok", "Grüße, 東京 — ok"),
        ("lone \x1b", "lone"),
    ],
)
def test_printable_strips_sequences_whole(raw: str, clean: str) -> None:
    assert printable(raw) == clean
    assert is_printable(printable(raw))


def test_printable_cuts_to_a_limit() -> None:
    assert printable("a" * 10, limit=5) == "aaaa…"
    assert printable("abc", limit=5) == "abc"


def test_is_printable() -> None:
    assert is_printable("A1B2C3D4E5")
    assert not is_printable("A1B2\x1b[2J")


def test_a_callback_seller_id_with_control_characters_is_refused() -> None:
    from urllib.parse import quote

    from soldscope_cli.consent.listener import ConsentDenied, MissingCode, parse_callback

    state = "s" * 32
    seller = quote("A1B2C3D4E5\x1b]8;;https://evil.example/\x1b\\")
    with pytest.raises(MissingCode):
        parse_callback(f"spapi_oauth_code=c0de&state={state}&selling_partner_id={seller}", state)
    denied = quote(f"no{CLEAR}{LINK}")
    with pytest.raises(ConsentDenied) as caught:
        parse_callback(f"error=access_denied{quote(CLEAR)}&error_description={denied}", state)
    assert is_printable(str(caught.value)) and "evil.example" not in str(caught.value)
