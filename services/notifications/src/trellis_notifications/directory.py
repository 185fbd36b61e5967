"""Notifications' copy of who people are: name, email, locale and time zone, from profiles.

Eventually consistent: an event about someone whose registration has not arrived yet still
reaches their inbox; their email waits (queued) until the address is known.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications.models import NotificationsTable, timestamp
from trellis_shared.contracts import profiles as contracts
from trellis_shared.db import upsert_if_newer

_NEVER_AGAIN = 2**31 - 1


class PersonView(NotificationsTable, table=True):
    __tablename__ = "person_view"

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    full_name: str
    email: str | None = None
    locale: str = "en"
    time_zone: str = "UTC"
    erased: bool = False
    version: int
    updated_at: datetime = timestamp()


class ProgramView(NotificationsTable, table=True):
    __tablename__ = "program_view"

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    name: str
    version: int
    updated_at: datetime = timestamp()


async def record_person(
    session: AsyncSession, tenant: uuid.UUID, data: contracts.PersonRegistered
) -> None:
    await upsert_if_newer(
        session,
        PersonView.__table__,
        {
            "id": data.person_id,
            "organization_id": tenant,
            "full_name": data.full_name,
            "email": data.email,
            "locale": data.locale,
            "time_zone": data.time_zone,
            "version": data.version,
        },
    )


async def record_program(
    session: AsyncSession, tenant: uuid.UUID, data: contracts.ProgramCreated
) -> None:
    await upsert_if_newer(
        session,
        ProgramView.__table__,
        {
            "id": data.program_id,
            "organization_id": tenant,
            "name": data.name,
            "version": data.version,
        },
    )


async def erase_person(session: AsyncSession, tenant: uuid.UUID, person_id: uuid.UUID) -> None:
    """Forget the person's name and address; the row stays so no late update brings them back."""
    values = {
        "full_name": "Erased person",
        "email": None,
        "erased": True,
        "version": _NEVER_AGAIN,
        "updated_at": sa.func.now(),
    }
    statement = insert(PersonView.__table__).values(id=person_id, organization_id=tenant, **values)
    await session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))


async def people(
    session: AsyncSession, tenant: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, PersonView]:
    found = await session.exec(
        select(PersonView).where(PersonView.organization_id == tenant, col(PersonView.id).in_(ids))
    )
    return {p.id: p for p in found.all()}


async def program_name(session: AsyncSession, tenant: uuid.UUID, program_id: uuid.UUID) -> str:
    name = await session.scalar(
        select(ProgramView.name).where(
            ProgramView.id == program_id, ProgramView.organization_id == tenant
        )
    )
    return name or "your program"
