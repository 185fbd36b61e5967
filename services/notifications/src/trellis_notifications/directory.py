"""Notifications' copy of who people are: name, email, locale and time zone, from profiles.

Eventually consistent: an event about someone whose registration has not arrived yet still
reaches their inbox; their email waits (queued) until the address is known.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications.models import NotificationsTable, timestamp
from trellis_shared.contracts import profiles as contracts
from trellis_shared.db import Row
from trellis_shared.events import Event

_NEVER_AGAIN = 2**31 - 1

Key = tuple[uuid.UUID, uuid.UUID]
"""(organization id, person or program id): ids are looked up within their organization."""


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


def person_row(event: Event[contracts.PersonRegistered]) -> Row:
    """The directory's row of the person (registered or updated), upserted if newer."""
    data = event.data
    return Row(
        PersonView.__table__,
        {
            "id": data.person_id,
            "organization_id": event.tenant,
            "full_name": data.full_name,
            "email": data.email,
            "locale": data.locale,
            "time_zone": data.time_zone,
            "version": data.version,
        },
    )


def program_row(event: Event[contracts.ProgramCreated]) -> Row:
    """The directory's row of the program (created or updated), upserted if newer."""
    data = event.data
    return Row(
        ProgramView.__table__,
        {
            "id": data.program_id,
            "organization_id": event.tenant,
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
    found = await people_in(session, {(tenant, person) for person in ids})
    return {person: view for (_, person), view in found.items()}


def among(organization: Any, id_: Any) -> sa.ColumnElement[bool]:
    """Rows whose (organization, id) columns may be among the keys given as the arrays `orgs`
    and `ids` (`keys`): a statement built once runs the same prepared statement for any number
    of keys; what comes back is then matched to the keys themselves."""
    return sa.and_(
        col(organization) == sa.any_(sa.bindparam("orgs", type_=ARRAY(sa.Uuid))),
        col(id_) == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.Uuid))),
    )


def keys(wanted: set[Key]) -> dict[str, list[uuid.UUID]]:
    """The `orgs` and `ids` parameters of `among`."""
    return {"orgs": list({org for org, _ in wanted}), "ids": list({id_ for _, id_ in wanted})}


_PEOPLE = select(PersonView).where(among(PersonView.organization_id, PersonView.id))
_PROGRAM_NAMES = sa.select(ProgramView.id, ProgramView.organization_id, ProgramView.name).where(
    among(ProgramView.organization_id, ProgramView.id)
)


async def people_in(session: AsyncSession, wanted: set[Key]) -> dict[Key, PersonView]:
    """The people known among `wanted` (organization, person id), in one query."""
    if not wanted:
        return {}
    found = await session.scalars(_PEOPLE, keys(wanted))
    return {key: p for p in found.all() if (key := (p.organization_id, p.id)) in wanted}


async def program_names(session: AsyncSession, wanted: set[Key]) -> dict[Key, str]:
    """The names of the programs known among `wanted` (organization, program id), in one query."""
    if not wanted:
        return {}
    found = await session.execute(_PROGRAM_NAMES, keys(wanted))
    return {key: name for id_, org, name in found.all() if (key := (org, id_)) in wanted}
