"""Daily digests: a person's `digest` rows whose time has come become one email.

The digest is itself a queued email_delivery row (template "digest"), so it is sent, retried and
logged like any other; the rows it gathers are marked sent with it. Quiet hours do not hold it:
the person chose its time.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trellis_notifications import directory, templates
from trellis_notifications.deliveries import EmailDelivery
from trellis_notifications.preferences.models import Preference
from trellis_notifications.preferences.service import Effective
from trellis_notifications.settings import NotificationsSettings

TEMPLATE = "digest"
log = logging.getLogger("trellis.notifications.email")
_t = EmailDelivery.__table__


async def run_once(
    sessionmaker: async_sessionmaker,
    settings: NotificationsSettings,
    *,
    now: datetime | None = None,
) -> int:
    """Compose the digests due at `now`; how many were composed."""
    now = now or datetime.now(UTC)
    async with sessionmaker() as session:
        due = (
            await session.execute(
                sa.select(_t.c.organization_id, _t.c.person_id)
                .where(_t.c.status == "digest", _t.c.due_at <= now)
                .group_by(_t.c.organization_id, _t.c.person_id)
                .limit(settings.email_batch_size)
            )
        ).all()
    composed = 0
    for tenant, person_id in due:
        # One transaction per person: a problem with one digest holds back no one else's.
        async with sessionmaker() as session, session.begin():
            composed += await _compose(session, settings, tenant, person_id, now)
    return composed


def _entry(row: Any) -> dict[str, Any]:
    try:
        subject = templates.render(row.template, row.locale, row.context).subject
    except Exception:
        log.exception("cannot render digest item %s (%s)", row.id, row.template)
        subject = row.template.replace("_", " ").capitalize()
    return {"subject": subject, "link": row.context.get("link"), "category": row.category}


async def _compose(
    session: AsyncSession,
    settings: NotificationsSettings,
    tenant: uuid.UUID,
    person_id: uuid.UUID,
    now: datetime,
) -> int:
    items = (
        await session.execute(
            sa.select(_t)
            .where(
                _t.c.organization_id == tenant,
                _t.c.person_id == person_id,
                _t.c.status == "digest",
                _t.c.due_at <= now,
            )
            .order_by(_t.c.created_at)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not items:
        return 0  # another replica is composing it
    person = (await directory.people(session, tenant, [person_id])).get(person_id)
    channels = await session.scalar(
        sa.select(Preference.channels).where(
            Preference.person_id == person_id, Preference.organization_id == tenant
        )
    )
    prefs = Effective(channels=channels or {})
    wanted = not (person is not None and person.erased)
    keep = [i for i in items if wanted and prefs.allows(i.category, "email")]
    dropped = {i.id for i in items} - {i.id for i in keep}
    if dropped:
        await session.execute(sa.update(_t).where(_t.c.id.in_(dropped)).values(status="suppressed"))
    if not keep:
        return 0
    name = person.full_name if person is not None else "there"
    await session.execute(
        sa.insert(_t).values(
            id=uuid.uuid4(),
            organization_id=tenant,
            person_id=person_id,
            source_id=uuid.uuid4(),
            template=TEMPLATE,
            category=TEMPLATE,
            critical=False,
            locale=person.locale if person is not None else keep[-1].locale,
            context={
                "recipient": {
                    "id": str(person_id),
                    "name": name,
                    "first_name": (name.split() or [name])[0],
                },
                "items": [_entry(i) for i in keep],
                "count": len(keep),
                # Its unsubscribe link stops what it gathered.
                "categories": sorted({i.category for i in keep}),
                "link": f"{settings.public_base_url.rstrip('/')}/notifications/inbox",
                "program": None,
            },
            to_address=(person.email if person is not None else None) or keep[-1].to_address,
            status="queued",
            due_at=now,
            attempts=0,
            created_at=now,
        )
    )
    await session.execute(
        sa.update(_t).where(_t.c.id.in_([i.id for i in keep])).values(status="sent", sent_at=now)
    )
    return 1
