"""Meetings as iCalendar (RFC 5545): one invite per meeting, or a person's whole calendar feed.

Times carry their planning zone (DTSTART;TZID=...) with a VTIMEZONE describing that zone over the
meetings' dates, so a calendar app shows them right even across a DST change. The UID is stable
and SEQUENCE grows with every change, so an app updates the event it already has. An invite
(METHOD:REQUEST) names its ORGANIZER and ATTENDEEs, as RFC 5546 requires: without them mail
clients show it as a plain attachment rather than an invitation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import icalendar

from trellis_sessions.meetings.models import Meeting
from trellis_sessions.meetings.present import zone_or

PRODID = "-//Trellis//Sessions//EN"
MEDIA_TYPE = "text/calendar; charset=utf-8"
_STATUS = {"scheduled": "CONFIRMED", "completed": "CONFIRMED", "cancelled": "CANCELLED"}
# Sessions does not keep people's email addresses (profiles owns them, and erasure is simpler for
# what is never copied), so a calendar address is a stable per-person one under the reserved
# .invalid TLD (RFC 2606): apps match the same person across updates, and nothing is ever mailed.
PEOPLE_DOMAIN = "people.trellis.invalid"


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    name: str | None


@dataclass(frozen=True)
class Cast:
    """A mentorship as its meetings are titled and addressed: mentor first, then mentee."""

    summary: str
    mentor: Person
    mentee: Person


def uid(meeting: Meeting) -> str:
    return f"{meeting.id}@trellis"


def address(person: Person, **params: str) -> icalendar.vCalAddress:
    return icalendar.vCalAddress.new(f"{person.id}@{PEOPLE_DOMAIN}", cn=person.name, **params)


def event(meeting: Meeting, *, cast: Cast, stamp: datetime) -> icalendar.Event:
    tz = zone_or(None, meeting.time_zone)
    is_link = (meeting.location or "").startswith(("https://", "http://"))
    # Whoever scheduled it organizes it; the mentor when an admin did (or the author is unknown).
    organizer = cast.mentee if meeting.created_by == cast.mentee.id else cast.mentor
    return icalendar.Event.new(
        uid=uid(meeting),
        sequence=meeting.sequence,
        stamp=stamp,
        start=meeting.starts_at.astimezone(tz),
        end=meeting.ends_at.astimezone(tz),
        summary=cast.summary,
        description=meeting.agenda or None,
        location=meeting.location or None,
        url=meeting.location if is_link and meeting.mode == "video" else None,
        status=_STATUS[meeting.status],
        organizer=address(organizer),
        attendees=[
            address(p, partstat="NEEDS-ACTION", role="REQ-PARTICIPANT")
            for p in (cast.mentor, cast.mentee)
        ],
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


def invite(meeting: Meeting, *, cast: Cast) -> bytes:
    """A REQUEST for a live meeting, a CANCEL for a cancelled one."""
    method = "CANCEL" if meeting.status == "cancelled" else "REQUEST"
    stamp = datetime.now(UTC)
    return _calendar([event(meeting, cast=cast, stamp=stamp)], method=method, name=None)


def feed(meetings: Iterable[tuple[Meeting, Cast]], *, name: str) -> bytes:
    """A subscribable calendar (no METHOD): every meeting, the cancelled ones as CANCELLED."""
    stamp = datetime.now(UTC)
    events = [event(m, cast=cast, stamp=stamp) for m, cast in meetings]
    return _calendar(events, method=None, name=name)
