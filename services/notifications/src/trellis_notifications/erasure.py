"""Erasure: a person's inbox, preferences and queued messages go; only the critical confirmation
of the erasure itself is still sent (to the address captured when it was queued), after which
its address is blanked too."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications import directory, reminders
from trellis_notifications.deliveries import EmailDelivery
from trellis_notifications.email import admins
from trellis_notifications.models import InboxItem
from trellis_notifications.preferences.models import Preference


async def erase_person(session: AsyncSession, tenant: uuid.UUID, person_id: uuid.UUID) -> None:
    mine = (InboxItem.organization_id == tenant, InboxItem.person_id == person_id)
    await session.execute(sa.delete(InboxItem).where(*mine))
    await session.execute(
        sa.delete(Preference).where(
            Preference.organization_id == tenant, Preference.person_id == person_id
        )
    )
    await session.execute(
        sa.delete(EmailDelivery).where(
            EmailDelivery.organization_id == tenant,
            EmailDelivery.person_id == person_id,
            sa.or_(EmailDelivery.critical.is_(False), EmailDelivery.status != "queued"),
        )
    )
    await reminders.erase_person(session, tenant, person_id)
    await admins.erase_person(session, tenant, person_id)
    await directory.erase_person(session, tenant, person_id)
