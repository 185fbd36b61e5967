"""Sessions' copy of the few profiles facts it needs: program defaults, people's names and zones.

Built from profiles' events, so it is eventually consistent: a mentorship may start before its
program's event arrives, and then takes the platform defaults. Writes are upserts guarded by the
entity's version, so a replayed or late event never overwrites a newer state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.models import SessionsTable, timestamp
from trellis_shared.contracts import profiles as contracts
from trellis_shared.db import Row

ERASED_NAME = "Erased person"


class ProgramView(SessionsTable, table=True):
    """A program's mentorship defaults, as profiles last announced them."""

    __tablename__ = "program_view"

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    name: str
    cadence_days: int
    meeting_minutes: int
    health_threshold: int
    version: int
    updated_at: datetime = timestamp()


class PersonView(SessionsTable, table=True):
    """A person's name, zone and locale: what meetings and calendars are shown in."""

    __tablename__ = "person_view"

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    full_name: str
    time_zone: str
    locale: str
    erased: bool = False
    version: int
    updated_at: datetime = timestamp()


@dataclass(frozen=True)
class ProgramDefaults:
    cadence_days: int = 14
    meeting_minutes: int = 45
    health_threshold: int = 50


def program_row(tenant: uuid.UUID, data: contracts.ProgramCreated) -> Row:
    """A program's mentorship defaults (created or updated)."""
    return Row(
        ProgramView.__table__,
        {
            "id": data.program_id,
            "organization_id": tenant,
            "name": data.name,
            "cadence_days": data.meeting_cadence_days,
            "meeting_minutes": data.meeting_minutes,
            "health_threshold": data.health_threshold,
            "version": data.version,
        },
    )


def person_row(tenant: uuid.UUID, data: contracts.PersonRegistered) -> Row:
    """A person's name, time zone and locale (registered or updated)."""
    return Row(
        PersonView.__table__,
        {
            "id": data.person_id,
            "organization_id": tenant,
            "full_name": data.full_name,
            "time_zone": data.time_zone,
            "locale": data.locale,
            "version": data.version,
        },
    )


async def erase_person(session: AsyncSession, tenant: uuid.UUID, person_id: uuid.UUID) -> None:
    """Forget the person's name; the row stays so that no later update can bring it back."""
    statement = insert(PersonView.__table__).values(
        id=person_id,
        organization_id=tenant,
        full_name=ERASED_NAME,
        time_zone="UTC",
        locale="en",
        erased=True,
        version=2**31 - 1,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "full_name": ERASED_NAME,
                "erased": True,
                "version": 2**31 - 1,
                "updated_at": sa.func.now(),
            },
        )
    )


async def program_defaults(
    session: AsyncSession, organization_id: uuid.UUID, program_id: uuid.UUID
) -> ProgramDefaults:
    """The program's cadence, length and threshold; the platform's defaults until it is known."""
    program = await session.scalar(
        select(ProgramView).where(
            ProgramView.id == program_id, ProgramView.organization_id == organization_id
        )
    )
    if program is None:
        return ProgramDefaults()
    return ProgramDefaults(program.cadence_days, program.meeting_minutes, program.health_threshold)


async def people(
    session: AsyncSession, organization_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, PersonView]:
    """The known people among `ids` (someone whose event has not arrived yet is missing)."""
    found = await session.exec(
        select(PersonView).where(
            PersonView.organization_id == organization_id, col(PersonView.id).in_(ids)
        )
    )
    return {p.id: p for p in found.all()}
