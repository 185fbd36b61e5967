"""Profiles domain rules."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_profiles import events
from trellis_profiles.models import Person, PersonCreate
from trellis_shared.problems import Problem
from trellis_shared.settings import ServiceSettings


async def register_person(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    data: PersonCreate,
) -> Person:
    """Add a person to the organization's directory and announce it."""
    person = Person(organization_id=organization_id, **data.model_dump())
    session.add(person)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Problem(
            409,
            f"A person with email {data.email} already exists in this organization",
            slug="duplicate-email",
            errors=[{"field": "body.email", "message": "already registered"}],
        ) from exc
    await events.person_registered(session, settings, person)
    return person


async def get_person(
    *, session: AsyncSession, organization_id: uuid.UUID, person_id: uuid.UUID
) -> Person:
    """A person of the caller's organization; another tenant's person is simply not found."""
    person = (
        await session.exec(
            select(Person).where(Person.id == person_id, Person.organization_id == organization_id)
        )
    ).first()
    if person is None:
        raise Problem(404, f"No person {person_id}")
    return person
