"""Meetings as iCalendar (RFC 5545): one invite per meeting, or a person's whole calendar feed.

Times carry their planning zone (DTSTART;TZID=...) with a VTIMEZONE describing that zone over the
meetings' dates, so a calendar app shows them right even across a DST change. The UID is stable
and SEQUENCE grows with every change, so an app updates the event it already has.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import icalendar

from trellis_sessions.meetings.models import Meeting
from trellis_sessions.meetings.present import zone_or

PRODID = "-//Trellis//Sessions//EN"
MEDIA_TYPE = "text/calendar; charset=utf-8"
_STATUS = {"scheduled": "CONFIRMED", "completed": "CONFIRMED", "cancelled": "CANCELLED"}


def uid(meeting: Meeting) -> str:
    return f"{meeting.id}@trellis"


def event(meeting: Meeting, *, summary: str, stamp: datetime) -> icalendar.Event:
    tz = zone_or(None, meeting.time_zone)
    is_link = (meeting.location or "").startswith(("https://", "http://"))
    return icalendar.Event.new(
        uid=uid(meeting),
        sequence=meeting.sequence,
        stamp=stamp,
        start=meeting.starts_at.astimezone(tz),
        end=meeting.ends_at.astimezone(tz),
        summary=summary,
        description=meeting.agenda or None,
        location=meeting.location or None,
        url=meeting.location if is_link and meeting.mode == "video" else None,
        status=_STATUS[meeting.status],
    )


def _calendar(events: list[icalendar.Event], *, method: str | None, name: str | None) -> bytes:
    calendar = icalendar.Calendar.new(prodid=PRODID, method=method, name=name, subcomponents=events)
    starts = [e.start for e in events]
    if starts:
        # VTIMEZONE definitions cover just the span the events need (the default spans decades).
        calendar.add_missing_timezones(
            first_date=min(starts).date() - timedelta(days=1),
            last_date=max(e.end for e in events).date() + timedelta(days=1),
        )
    return calendar.to_ical()


def invite(meeting: Meeting, *, summary: str) -> bytes:
    """A REQUEST for a live meeting, a CANCEL for a cancelled one."""
    method = "CANCEL" if meeting.status == "cancelled" else "REQUEST"
    stamp = datetime.now(UTC)
    return _calendar([event(meeting, summary=summary, stamp=stamp)], method=method, name=None)


def feed(meetings: Iterable[tuple[Meeting, str]], *, name: str) -> bytes:
    """A subscribable calendar (no METHOD): every meeting, the cancelled ones as CANCELLED."""
    stamp = datetime.now(UTC)
    events = [event(m, summary=summary, stamp=stamp) for m, summary in meetings]
    return _calendar(events, method=None, name=name)
