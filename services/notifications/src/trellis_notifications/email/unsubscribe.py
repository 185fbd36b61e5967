"""Unsubscribing from an email link: the categories the link names stop reaching the person by
email (their inbox is untouched); queued emails of those categories are suppressed when due."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications import directory
from trellis_notifications.email import tokens
from trellis_notifications.preferences.models import CATEGORIES, DEFAULT_LEADS, Preference
from trellis_shared.problems import Problem

_prefs = Preference.__table__


def claim(token: str, secret: str) -> tokens.Unsubscribe:
    """The token's claim; a forged or mangled token is a bad request."""
    try:
        found = tokens.verify(token, secret)
    except tokens.BadToken as exc:
        raise Problem(400, f"This unsubscribe link is not valid ({exc})", slug="bad-token") from exc
    if not set(found.categories) <= set(CATEGORIES):
        raise Problem(400, "This unsubscribe link names an unknown category", slug="bad-token")
    return found


async def known(session: AsyncSession, found: tokens.Unsubscribe) -> None:
    """404 unless the link's person is still there (an erased person has nothing to switch)."""
    people = await directory.people(session, found.organization_id, [found.person_id])
    person = people.get(found.person_id)
    if person is None or person.erased:
        raise Problem(404, "Nobody to unsubscribe: this person is not known (any more)")


async def apply(session: AsyncSession, found: tokens.Unsubscribe) -> None:
    """Switch email off for the link's categories (idempotent: a second click changes nothing)."""
    await known(session, found)
    await session.execute(
        insert(_prefs)
        .values(
            person_id=found.person_id,
            organization_id=found.organization_id,
            channels={},
            digest="instant",
            digest_time=Preference.model_fields["digest_time"].default,
            reminder_leads=list(DEFAULT_LEADS),
            version=0,
        )
        .on_conflict_do_nothing(index_elements=["person_id"])
    )
    row = (
        await session.execute(
            sa.select(_prefs.c.channels, _prefs.c.version)
            .where(
                _prefs.c.person_id == found.person_id,
                _prefs.c.organization_id == found.organization_id,
            )
            .with_for_update()
        )
    ).first()
    if row is None:
        raise Problem(404, "Nobody to unsubscribe")
    channels = {category: dict(switches) for category, switches in row.channels.items()}
    if all(channels.get(c, {}).get("email") is False for c in found.categories):
        return
    for category in found.categories:
        channels.setdefault(category, {})["email"] = False
    await session.execute(
        sa.update(_prefs)
        .where(_prefs.c.person_id == found.person_id)
        .values(channels=channels, version=row.version + 1, updated_at=sa.func.now())
    )
