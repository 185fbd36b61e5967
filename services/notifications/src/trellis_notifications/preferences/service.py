"""Reading and changing preferences, and what they mean for one message."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications import directory
from trellis_notifications.preferences.models import (
    CATEGORIES,
    CHANNELS,
    DEFAULT_LEADS,
    ChannelSwitches,
    Preference,
    PreferencesIn,
    PreferencesPublic,
    QuietHours,
)


@dataclass(frozen=True)
class Effective:
    """A person's preferences with the defaults filled in."""

    channels: dict[str, dict[str, bool]] = field(default_factory=dict)
    quiet_start: time | None = None
    quiet_end: time | None = None
    digest: str = "instant"
    digest_time: time = time(8, 0)
    reminder_leads: tuple[int, ...] = tuple(DEFAULT_LEADS)
    version: int = 0

    def allows(self, category: str, channel: str) -> bool:
        return self.channels.get(category, {}).get(channel, True)

    def quiet_until(self, at: datetime, zone: str) -> datetime | None:
        """The end of the quiet window `at` falls in (UTC), or None outside quiet hours."""
        if self.quiet_start is None or self.quiet_end is None:
            return None
        local = at.astimezone(_zone(zone))
        start, end, now = self.quiet_start, self.quiet_end, local.time()
        inside = start <= now < end if start < end else now >= start or now < end
        if not inside:
            return None
        end_day = local.date() if now < end else local.date() + timedelta(days=1)
        return datetime.combine(end_day, end, tzinfo=local.tzinfo).astimezone(at.tzinfo)

    def next_digest(self, at: datetime, zone: str) -> datetime:
        """The next daily digest time after `at` (UTC)."""
        local = at.astimezone(_zone(zone))
        due = datetime.combine(local.date(), self.digest_time, tzinfo=local.tzinfo)
        if due <= local:
            due = datetime.combine(
                local.date() + timedelta(days=1), self.digest_time, tzinfo=local.tzinfo
            )
        return due.astimezone(at.tzinfo)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _effective(row: Preference | None) -> Effective:
    if row is None:
        return Effective()
    return Effective(
        channels=row.channels,
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        digest=row.digest,
        digest_time=row.digest_time,
        reminder_leads=tuple(row.reminder_leads),
        version=row.version,
    )


async def effective(
    session: AsyncSession, organization_id: uuid.UUID, person_id: uuid.UUID
) -> Effective:
    key = (organization_id, person_id)
    return (await effective_of(session, {key}))[key]


_OF_PEOPLE = select(Preference).where(
    directory.among(Preference.organization_id, Preference.person_id)
)


async def effective_of(
    session: AsyncSession, wanted: set[directory.Key]
) -> dict[directory.Key, Effective]:
    """The preferences of each (organization, person) in `wanted`, in one query."""
    rows = {}
    if wanted:
        found = await session.scalars(_OF_PEOPLE, directory.keys(wanted))
        rows = {(row.organization_id, row.person_id): row for row in found.all()}
    return {key: _effective(rows.get(key)) for key in wanted}


def present(prefs: Effective, time_zone: str) -> PreferencesPublic:
    quiet = (
        QuietHours(start=prefs.quiet_start, end=prefs.quiet_end)
        if prefs.quiet_start is not None and prefs.quiet_end is not None
        else None
    )
    return PreferencesPublic(
        channels={
            c: ChannelSwitches(**{ch: prefs.allows(c, ch) for ch in CHANNELS}) for c in CATEGORIES
        },
        quiet_hours=quiet,
        digest=prefs.digest,
        digest_time=prefs.digest_time,
        reminder_lead_minutes=list(prefs.reminder_leads),
        time_zone=time_zone,
        version=prefs.version,
    )


async def replace(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    data: PreferencesIn,
) -> Effective:
    """Store the person's preferences (a full replacement)."""
    values = {
        "organization_id": organization_id,
        "channels": {c: s.model_dump() for c, s in data.channels.items()},
        "quiet_start": data.quiet_hours.start if data.quiet_hours else None,
        "quiet_end": data.quiet_hours.end if data.quiet_hours else None,
        "digest": data.digest,
        "digest_time": data.digest_time,
        "reminder_leads": data.reminder_lead_minutes,
    }
    statement = insert(Preference.__table__).values(person_id=person_id, version=1, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["person_id"],
            set_=values
            | {"version": Preference.__table__.c.version + 1, "updated_at": sa.func.now()},
            where=Preference.__table__.c.organization_id == organization_id,
        )
    )
    return await effective(session, organization_id, person_id)
