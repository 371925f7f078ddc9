"""The small self-contained HTML pages the consent listener answers the browser with."""

from __future__ import annotations

from html import escape

# The pages carry no script and load nothing, so the CSP can forbid everything but inline style.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f6f7f9;color:#1b1f24}
main{max-width:36rem;margin:3rem auto;padding:1.5rem 2rem;background:#fff;border-radius:8px;
border-top:6px solid var(--accent)}
h1{font-size:1.4rem;margin:.2rem 0 1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}
dt{font-weight:600}dd{margin:0;word-break:break-all}
code{background:#eef0f3;padding:.1rem .3rem;border-radius:3px}
.ok{--accent:#1a7f37}.bad{--accent:#cf222e}.info{--accent:#9a6700}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}
main{background:#161b22}code{background:#30363d}}
"""


def _page(kind: str, title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>soldscope: {escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main class="{kind}"><h1>{escape(title)}</h1>{body}</main></body></html>\n'
    )


def received_page(label: str, selling_partner_id: str) -> str:
    """The page shown once Amazon's consent reached soldscope: nothing is checked or stored yet,
    so it claims no success (the token may still be refused, e.g. for a marketplace)."""
    body = (
        "<p>Amazon's answer reached soldscope. Nothing is stored yet: soldscope now exchanges it "
        "for a token, checks that the token works for the store's marketplaces, and only then "
        "stores it. The terminal says whether the store was connected, or what to do if not.</p>"
        "<p><strong>What to do:</strong> return to the terminal. You can close this tab.</p>"
        f"<dl><dt>Store</dt><dd>{escape(label)}</dd>"
        f"<dt>Seller ID</dt><dd><code>{escape(selling_partner_id)}</code></dd></dl>"
    )
    return _page("info", "Return to the terminal", body)


def failure_page(title: str, detail: str, action: str) -> str:
    """A page saying what went wrong and what to do next."""
    body = f"<p>{escape(detail)}</p><p><strong>What to do:</strong> {escape(action)}</p>"
    return _page("bad", title, body)


def already_used_page() -> str:
    """The answer to any callback after the first one."""
    body = (
        "<p>soldscope already received an answer for this consent and ignored this one. "
        "If the terminal is still waiting or has finished, nothing more is needed here.</p>"
        "<p>To connect the store again, start a new <code>soldscope connect</code> "
        "and use the fresh link it prints.</p>"
    )
    return _page("info", "This link was already used", body)


def not_found_page() -> str:
    """The answer to every path the listener does not serve."""
    return _page("info", "Not found", "<p>This address is not served by soldscope.</p>")


# --- the pages `soldscope serve` shows a seller who follows an invitation link ---------------------


def _contact(agency: str | None) -> str:
    return escape(agency) if agency else "the agency that sent you the link"


def connected_page(agency: str | None) -> str:
    """The seller's last page of a consent through an invitation: nothing to copy, nothing to keep."""
    who = f" with {escape(agency)}" if agency else ""
    body = (
        f"<p>Your Amazon seller account is now connected{who}. Nothing else is needed from you.</p>"
    )
    return _page("ok", "Connected — you can close this tab", body)


def invitation_page(kind: str, title: str, detail: str, agency: str | None, *, retry: bool) -> str:
    """A page saying what happened to the seller's consent and whom to contact."""
    again = "<p>You can open the invitation link again to retry.</p>" if retry else ""
    body = (
        f"<p>{escape(detail)}</p>{again}"
        f"<p><strong>Questions?</strong> Contact {_contact(agency)}.</p>"
    )
    return _page(kind, title, body)
