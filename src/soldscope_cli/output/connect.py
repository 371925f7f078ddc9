"""What connect shows: the consent link, the countdown, the paste prompt, the stored row."""

from __future__ import annotations

from soldscope_cli.checks.result import reconnect_hint
from soldscope_cli.onboarding.consent_flow import ConnectResult, ConsentLink
from soldscope_cli.output.policy import Terminal
from soldscope_cli.output.store_table import render_store_table
from soldscope_cli.status import Status


def _duration(seconds: float) -> str:
    """4:59 — minutes and seconds, rounded up so the countdown never shows 0:00 early."""
    whole = max(0, int(-(-seconds // 1)))
    return f"{whole // 60}:{whole % 60:02d}"


class TerminalConsentUi:
    """A consent on stderr: the link on a line of its own, a countdown on a terminal, the paste."""

    def __init__(self, app: Terminal) -> None:
        self.app = app
        self._counting = False

    def _say(self, text: str) -> None:
        self.close()
        # Never wrapped: the link must survive copy and paste from the terminal in one piece.
        self.app.err.print(text, markup=False, soft_wrap=True)

    def link(self, link: ConsentLink) -> None:
        """Print the consent link and what happens next."""
        verb = "renew" if link.renewal else "connect"
        self._say(
            f"To {verb} {link.name}, the seller's primary Seller Central user opens this link "
            "and confirms:"
        )
        self._say(link.url)
        if link.listen_url is None:
            self._say(
                f"Then paste the address the browser ends on (it starts with "
                f"{link.redirect_uri}) and press Enter; Amazon's code expires 5 minutes after "
                "the consent."
            )
            return
        via = f" through the relay page {link.redirect_uri}" if link.relay else ""
        self._say(
            f"Waiting up to {_duration(link.timeout)} for Amazon's answer{via} at "
            f"{link.listen_url} (Ctrl-C to stop)."
        )

    def browser(self, opened: bool) -> None:
        """Say when the browser could not be opened, so the link is used by hand."""
        if not opened:
            self._say("Could not open a browser: open the link above, or send it to the seller.")

    def tick(self, remaining: float) -> None:
        """Rewrite the countdown in place; only a person at a terminal wants one."""
        if not self.app.stderr_tty:
            return
        self.app.stderr.write(f"\r{_duration(remaining)} left ")
        self.app.stderr.flush()
        self._counting = True

    def paste(self, link: ConsentLink) -> str:
        """One line from a terminal; all of stdin from a pipe (wrapped lines are rejoined)."""
        if self.app.stdin_tty:
            self.app.stderr.write("Address: ")
            self.app.stderr.flush()
            return self.app.stdin.readline()
        return self.app.stdin.read()

    def step(self, text: str) -> None:
        """Progress after Amazon's answer."""
        self._say(f"{text[:1].upper()}{text[1:]}…")

    def close(self) -> None:
        """Erase the countdown line, so the next message starts clean."""
        if self._counting:
            self.app.stderr.write("\r\x1b[K")
            self.app.stderr.flush()
            self._counting = False


def render_connected(app: Terminal, result: ConnectResult) -> None:
    """The stored row on stdout; what happened on stderr."""

    record = result.row.record
    verb = "Renewed" if result.renewed else "Connected"
    markets = ", ".join(record.marketplaces)
    scope = (
        f"{record.region}, region-wide: {markets}"
        if record.region_wide
        else (f"{record.region}: {markets}")
    )
    seller = f" for seller {record.selling_partner_id}" if record.selling_partner_id else ""
    row = result.row
    expires = row.expires_at.strftime("%Y-%m-%d")
    if row.status is Status.EXPIRED:
        # Amazon still answered, but the 365 days counted from --authorized-at are over.
        text = (
            f"{verb} {record.name} ({scope}){seller}, but its authorization expired on {expires}, "
            f"365 days after {record.authorized_at:%Y-%m-%d}: the token can stop working at any "
            f"time — {reconnect_hint(record)}"
        )
    elif row.status is Status.EXPIRING_SOON:
        text = (
            f"{verb} {record.name} ({scope}){seller}; the token works, but the authorization "
            f"expires on {expires} ({row.days_left} days left) — {reconnect_hint(record)} before then"
        )
    else:
        text = f"{verb} {record.name} ({scope}){seller}; the token works."
    app.err.print(text, markup=False)
    render_store_table(app.out, [row], app.policy)
