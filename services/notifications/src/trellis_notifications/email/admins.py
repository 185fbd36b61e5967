"""The org admins notifications knows, and their at-risk digests: every mentorship of their
organization that falls below its program's health threshold reaches a known admin's inbox and
their next daily digest, unless they switched the digest off.

Roles live in tokens, and no event says who is an org admin, so notifications knows an admin once
they have made any request to it as an org admin (deps.remember_admin: reading their inbox is
enough), or registered a webhook. A switched-off admin stays known: operational notices
(`known_admins`, e.g. a webhook disabled) reach every known admin whatever their digest or
category choices. An org admin who never called notifications is not known yet.

The catalog's rules are functions of an event's data; who the admins are is a database fact, so
this is a hook the consumer calls after the catalog (handlers.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Field, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications import directory
from trellis_notifications.catalog import Recipient
from trellis_notifications.dispatch import notify
from trellis_notifications.models import NotificationsTable, timestamp
from trellis_shared.contracts.sessions import MentorshipAtRisk
from trellis_shared.events import Event

TEMPLATE = "at_risk_admin"
CATEGORY = "program_admin"


class AdminContact(NotificationsTable, table=True):
    __tablename__ = "admin_contact"

    organization_id: uuid.UUID = Field(primary_key=True)
    person_id: uuid.UUID = Field(primary_key=True)
    enabled: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    updated_at: datetime = timestamp()


async def digest_enabled(
    session: AsyncSession, *, organization_id: uuid.UUID, person_id: uuid.UUID
) -> bool:
    enabled = await session.scalar(
        select(AdminContact.enabled).where(
            AdminContact.organization_id == organization_id, AdminContact.person_id == person_id
        )
    )
    return bool(enabled)


async def set_digest(
    session: AsyncSession, *, organization_id: uuid.UUID, person_id: uuid.UUID, enabled: bool
) -> bool:
    """Switch the admin's at-risk digest on or off."""
    statement = insert(AdminContact.__table__).values(
        organization_id=organization_id, person_id=person_id, enabled=enabled
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["organization_id", "person_id"],
            set_={"enabled": enabled, "updated_at": sa.func.now()},
        )
    )
    return enabled


async def record_admin(
    session: AsyncSession, *, organization_id: uuid.UUID, person_id: uuid.UUID
) -> None:
    """Remember an org admin; their digest choice stays as it was (on for one not seen before)."""
    await session.execute(
        insert(AdminContact.__table__)
        .values(organization_id=organization_id, person_id=person_id, enabled=True)
        .on_conflict_do_nothing(index_elements=["organization_id", "person_id"])
    )


async def known_admins(session: AsyncSession, organization_id: uuid.UUID) -> list[uuid.UUID]:
    """Every org admin of the organization notifications knows, digest on or off."""
    found = await session.exec(
        select(AdminContact.person_id)
        .where(AdminContact.organization_id == organization_id)
        .order_by(AdminContact.person_id)
    )
    return list(found.all())


async def notify_admins(session: AsyncSession, event: Event) -> None:
    """Every known admin of the tenant, unless they switched the digest off, hears about a
    mentorship at risk."""
    data: MentorshipAtRisk = event.data
    admins = (
        await session.exec(
            select(AdminContact.person_id).where(
                AdminContact.organization_id == event.tenant, AdminContact.enabled.is_(True)
            )
        )
    ).all()
    if not admins:
        return
    pair = await directory.people(session, event.tenant, [data.mentor_id, data.mentee_id])
    names = {
        role: pair[person].full_name if person in pair else f"the {role}"
        for role, person in (("mentor", data.mentor_id), ("mentee", data.mentee_id))
    }
    for admin in admins:
        await notify(
            session,
            tenant=event.tenant,
            recipient=Recipient(admin, "program_admin"),
            source_id=event.id,
            template=TEMPLATE,
            category=CATEGORY,
            data=data,
            link=f"/sessions/mentorships/{data.mentorship_id}",
            extra=names,
            digest=True,
        )


async def erase_person(session: AsyncSession, tenant: uuid.UUID, person_id: uuid.UUID) -> None:
    await session.execute(
        sa.delete(AdminContact).where(
            AdminContact.organization_id == tenant, AdminContact.person_id == person_id
        )
    )
