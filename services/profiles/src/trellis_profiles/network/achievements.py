"""Achievements a person shares: announced so partners can post them to their networks."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_profiles.events import publish
from trellis_profiles.network.models import Achievement, AchievementCreate
from trellis_profiles.people import service as people
from trellis_profiles.people.models import Person
from trellis_shared.contracts import profiles as contracts
from trellis_shared.pagination import keyset_page
from trellis_shared.problems import Problem
from trellis_shared.settings import ServiceSettings


async def share(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    data: AchievementCreate,
) -> Achievement:
    """Record the person's achievement and announce it."""
    # FOR KEY SHARE: the person cannot be erased before the achievement row references them.
    person = (
        await session.exec(
            select(Person)
            .where(Person.id == person_id, Person.organization_id == organization_id)
            .with_for_update(read=True, key_share=True)
        )
    ).first()
    if person is None:
        raise Problem(404, f"No person {person_id}")
    # "Today" is the person's own: in Auckland it is already tomorrow for much of a UTC day.
    today = datetime.now(ZoneInfo(person.time_zone)).date()
    if data.achieved_on > today:
        raise Problem(
            422,
            "Invalid body.achieved_on: must not be in the future",
            errors=[{"field": "body.achieved_on", "message": "must not be in the future"}],
        )
    achievement = Achievement(
        organization_id=organization_id, person_id=person_id, **data.model_dump()
    )
    session.add(achievement)
    await session.flush()
    await publish(
        session,
        settings,
        contracts.AchievementShared(
            achievement_id=achievement.id,
            person_id=person_id,
            kind=data.kind,
            title=achievement.title,
            description=achievement.description,
            url=achievement.url,
            achieved_on=achievement.achieved_on,
        ),
        tenant=organization_id,
    )
    return achievement


async def list_for(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> tuple[list[Achievement], str | None]:
    """The person's achievements, newest shared first."""
    await people.get(session=session, organization_id=organization_id, person_id=person_id)
    query = select(Achievement).where(
        Achievement.organization_id == organization_id, Achievement.person_id == person_id
    )
    return await keyset_page(
        session, query, Achievement, limit=limit, cursor=cursor, newest_first=True
    )
