"""Calendar invites attached to meeting emails (iTIP, RFC 5546): a REQUEST when a meeting is
scheduled or moved, a CANCEL when it is cancelled.

Built from the event's data alone. The UID is the one sessions uses ("<meeting id>@trellis") and
SEQUENCE is the meeting's own, so a calendar app updates or removes the event it already has,
whether it came from an email or from the person's feed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

PRODID = "-//Trellis//Notifications//EN"
# Which emails carry an invite, and with which iTIP method.
METHODS = {
    "meeting_scheduled": "REQUEST",
    "meeting_rescheduled": "REQUEST",
    "meeting_cancelled": "CANCEL",
}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def summary(recipient: dict[str, Any], other: dict[str, Any]) -> str:
    """The title sessions gives the meeting in calendars: the mentor named first."""
    pair = (recipient, other) if recipient.get("role") == "mentor" else (other, recipient)
    return "Mentoring: " + " & ".join(p["name"] for p in pair)


def build(
    template: str,
    event: dict[str, Any],
    *,
    summary: str,
    organizer: str,
    attendee: str,
    stamp: datetime,
) -> tuple[bytes, str] | None:
    """The invite for a meeting email and its method, or None when the email carries none."""
    method = METHODS.get(template)
    if method is None:
        return None
    tz = _zone(event["time_zone"])
    location = event.get("location") or None
    is_link = (location or "").startswith(("https://", "http://"))
    item = icalendar.Event.new(
        uid=f"{event['meeting_id']}@trellis",
        sequence=int(event.get("sequence") or 0),
        stamp=stamp,
        start=datetime.fromisoformat(event["starts_at"]).astimezone(tz),
        end=datetime.fromisoformat(event["ends_at"]).astimezone(tz),
        summary=summary,
        location=location,
        url=location if is_link and event.get("mode") == "video" else None,
        status="CANCELLED" if method == "CANCEL" else "CONFIRMED",
        organizer=icalendar.vCalAddress(f"mailto:{organizer}"),
        attendees=[icalendar.vCalAddress(f"mailto:{attendee}")],
    )
    calendar = icalendar.Calendar.new(prodid=PRODID, method=method, subcomponents=[item])
    # VTIMEZONE for just the days the meeting needs (the default spans decades).
    calendar.add_missing_timezones(
        first_date=item.start.date() - timedelta(days=1),
        last_date=item.end.date() + timedelta(days=1),
    )
    return calendar.to_ical(), method
