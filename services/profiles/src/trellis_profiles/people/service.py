"""People: register, read, search, update and erase, each change announced through the outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_profiles.events import publish
from trellis_profiles.people.models import Person, PersonCreate, PersonUpdate
from trellis_shared.concurrency import require_if_match
from trellis_shared.contracts import profiles as contracts
from trellis_shared.db import get_in_tenant
from trellis_shared.pagination import keyset_page
from trellis_shared.problems import Problem
from trellis_shared.settings import ServiceSettings


def snapshot(person: Person) -> dict[str, Any]:
    """The person's attributes as the person events carry them."""
    return {
        "person_id": person.id,
        "full_name": person.full_name,
        "email": person.email,
        "time_zone": person.time_zone,
        "locale": person.locale,
        "headline": person.headline,
        "languages": person.languages,
        "skills": person.skills,
        "interests": person.interests,
        "seniority_level": person.seniority_level,
        "industry": person.industry,
        "function": person.function,
        "manager_id": person.manager_id,
        "learning_style": person.learning_style,
        "mentoring_style": person.mentoring_style,
        "communication": person.communication,
        "availability": person.availability,
        # Stated preferences travel only with the person's consent.
        "matching_preferences": person.matching_preferences if person.demographics_opt_in else {},
        "version": person.version,
    }


def _apply(person: Person, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(person, name, value)
    person.skill_names = sorted({s["name"].lower() for s in person.skills})


def _conflict(exc: IntegrityError, data: PersonCreate | PersonUpdate) -> Problem:
    message = str(exc.orig)
    if "uq_person_organization_external_id" in message:
        return Problem(
            409,
            f"Another person in this organization has external id {data.external_id}",
            slug="duplicate-external-id",
            errors=[{"field": "body.external_id", "message": "already used"}],
        )
    if "manager_id" in message:
        return Problem(
            422,
            "Invalid body.manager_id: no such person",
            errors=[{"field": "body.manager_id", "message": "no such person"}],
        )
    return Problem(
        409,
        f"A person with email {data.email} already exists in this organization",
        slug="duplicate-email",
        errors=[{"field": "body.email", "message": "already registered"}],
    )


async def _save(session: AsyncSession, person: Person, data: PersonCreate | PersonUpdate) -> None:
    """Flush; a uniqueness conflict becomes its problem (409 or 422).

    The conflict ends the caller's transaction: a caller that goes on after a refused person
    (the import, row by row) holds its own savepoint around the call. The routes do not, and pay
    no SAVEPOINT and RELEASE round trips for a write that is theirs alone.
    """
    session.add(person)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _conflict(exc, data) from exc


async def _check_manager(
    session: AsyncSession, organization_id: uuid.UUID, manager_id: uuid.UUID | None
) -> None:
    if manager_id is None:
        return
    found = await session.scalar(
        select(Person.id).where(Person.id == manager_id, Person.organization_id == organization_id)
    )
    if found is None:
        raise Problem(
            422,
            "Invalid body.manager_id: no such person in this organization",
            errors=[{"field": "body.manager_id", "message": "no such person"}],
        )


async def register(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    data: PersonCreate,
) -> Person:
    """Add a person to the organization's directory and announce it."""
    await _check_manager(session, organization_id, data.manager_id)
    person = Person(organization_id=organization_id)
    _apply(person, data.model_dump(mode="json") | {"manager_id": data.manager_id})
    await _save(session, person, data)
    await publish(
        session,
        settings,
        contracts.PersonRegistered(**snapshot(person), registered_at=person.created_at),
        tenant=organization_id,
    )
    return person


async def get(
    *, session: AsyncSession, organization_id: uuid.UUID, person_id: uuid.UUID, lock: bool = False
) -> Person:
    """A person of the organization; another tenant's person is simply not found."""
    return await get_in_tenant(
        session, Person, person_id, organization_id=organization_id, lock=lock
    )


async def search(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    skill: str | None,
    language: str | None,
    q: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Person], str | None]:
    """People of the organization matching every filter given, oldest first."""
    query = select(Person).where(Person.organization_id == organization_id)
    if skill:
        query = query.where(col(Person.skill_names).contains([skill.strip().lower()]))
    if language:
        query = query.where(
            sa.or_(
                col(Person.languages).contains([language]),
                # "es" finds "es-MX" speakers too.
                sa.func.array_to_string(Person.languages, " ").op("~*")(
                    rf"(^| ){_escape(language)}-"
                ),
            )
        )
    if q:
        pattern = f"%{_escape_like(q.strip())}%"
        query = query.where(
            sa.or_(col(Person.full_name).ilike(pattern), col(Person.headline).ilike(pattern))
        )
    return await keyset_page(session, query, Person, limit=limit, cursor=cursor)


def _escape(text: str) -> str:
    return "".join(c if c.isalnum() else f"\\{c}" for c in text)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def update(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    data: PersonUpdate,
    if_match: str | None,
) -> Person:
    """Change the fields given, if the caller saw the current version."""
    person = await get(
        session=session, organization_id=organization_id, person_id=person_id, lock=True
    )
    require_if_match(if_match, person.version)
    changes = data.model_dump(mode="json", exclude_unset=True)
    if "manager_id" in changes:
        changes["manager_id"] = data.manager_id
        if data.manager_id == person.id:
            raise Problem(
                422,
                "Invalid body.manager_id: a person cannot manage themselves",
                errors=[{"field": "body.manager_id", "message": "cannot be the person"}],
            )
        await _check_manager(session, organization_id, data.manager_id)
    for required in ("full_name", "email", "time_zone", "locale"):
        if required in changes and changes[required] is None:
            raise Problem(
                422,
                f"Invalid body.{required}: cannot be null",
                errors=[{"field": f"body.{required}", "message": "cannot be null"}],
            )
    if not changes:
        return person
    _apply(person, changes)
    person.version += 1
    person.updated_at = datetime.now(UTC)
    await _save(session, person, data)
    await publish(
        session,
        settings,
        contracts.PersonUpdated(**snapshot(person), updated_at=person.updated_at),
        tenant=organization_id,
    )
    return person


async def erase(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
) -> None:
    """Remove the person's data here and tell every service to erase theirs."""
    person = await get(
        session=session, organization_id=organization_id, person_id=person_id, lock=True
    )
    await session.delete(person)
    await session.flush()
    await publish(
        session,
        settings,
        contracts.PersonErased(person_id=person_id, erased_at=datetime.now(UTC)),
        tenant=organization_id,
    )
