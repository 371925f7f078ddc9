"""The renewal calendar of a FleetSnapshot (`soldscope calendar`): RFC 5545 iCalendar.

icalendar is the maintained, typed RFC 5545 library: it folds long lines, escapes text and
writes dates and durations in the standard's forms, which calendar apps are strict about.
Each event's UID comes from the home's stable id and the store's name, so a subscribed
calendar updates an event when a store is renewed instead of adding a second one.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from icalendar import Alarm, Calendar, Event

from soldscope_cli.fleet.listing import StoreRow
from soldscope_cli.monitoring.snapshot import FleetSnapshot

PRODID = "-//soldscope//renewal calendar//EN"
REMIND_BEFORE = timedelta(days=30)


def event_uid(home_id: str, subject: str) -> str:
    """Stable across runs: a digest of the home's id and what the event is about."""
    digest = hashlib.sha256(f"{home_id}\0{subject}".encode()).hexdigest()[:32]
    return f"{digest}@soldscope"


def renewal_text(row: StoreRow) -> str:
    """How the store is renewed, in the commands that do it."""
    name = row.name
    if row.record.self_authorized:
        how = (
            f"Self-authorize the private app again and import the new token: "
            f"soldscope connect {name} --refresh-token-stdin"
        )
    else:
        how = (
            f"Renew it yourself: soldscope connect {name}\n"
            f"or send the seller an invitation link: soldscope invite {name}"
        )
    return (
        f"The Amazon SP-API authorization of store {name} ({row.record.region}) expires on "
        f"{row.expires_at.date().isoformat()}; after that sync stops for it.\n{how}"
    )


def _all_day(
    uid: str, day: date, summary: str, description: str, stamp: datetime, alarm: str
) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    event.add("transp", "TRANSPARENT")
    reminder = Alarm()
    reminder.add("action", "DISPLAY")
    reminder.add("description", alarm)
    reminder.add("trigger", -REMIND_BEFORE)
    event.add_component(reminder)
    return event


def build_calendar(snapshot: FleetSnapshot) -> Calendar:
    """One all-day event per store on its expiry date, and one for the client-secret rotation."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "soldscope renewals")
    stamp = snapshot.now.replace(microsecond=0)
    for row in sorted(snapshot.rows, key=lambda r: r.name):
        cal.add_component(
            _all_day(
                event_uid(snapshot.home_id, f"store:{row.name}"),
                row.expires_at.date(),
                f"Amazon authorization of {row.name} expires",
                renewal_text(row),
                stamp,
                f"{row.name}: Amazon authorization expires in 30 days",
            )
        )
    if snapshot.secret_due_at is not None:
        cal.add_component(
            _all_day(
                event_uid(snapshot.home_id, "app:lwa-client-secret"),
                snapshot.secret_due_at.date(),
                "Rotate the SP-API app's LWA client secret",
                "Amazon expires LWA client secrets 180 days after they are issued. Generate "
                "a new one in Solution Provider Portal, then store it: soldscope app set "
                "--client-secret-stdin",
                stamp,
                "The LWA client secret must be rotated in 30 days",
            )
        )
    return cal


def calendar_text(snapshot: FleetSnapshot) -> str:
    """The iCalendar file's text (CRLF line ends, as RFC 5545 asks)."""
    data: bytes = build_calendar(snapshot).to_ical()
    return data.decode("utf-8")
