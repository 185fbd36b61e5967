"""Introductions: someone connected to two people offers to connect them; the second decides."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_profiles.events import publish
from trellis_profiles.network.models import Introduction, IntroductionCreate, IntroductionStatus
from trellis_profiles.network.service import connect, connected, present
from trellis_shared.contracts import profiles as contracts
from trellis_shared.db import get_in_tenant
from trellis_shared.pagination import keyset_page
from trellis_shared.problems import Problem
from trellis_shared.settings import ServiceSettings

Role = Literal["received", "sent", "made"]
_ROLE_COLUMN = {"received": "to_person_id", "sent": "from_person_id", "made": "introducer_id"}


def _invalid(field: str, message: str) -> Problem:
    return Problem(
        422,
        f"Invalid body.{field}: {message}",
        errors=[{"field": f"body.{field}", "message": message}],
    )


def _ids(introduction: Introduction) -> dict[str, uuid.UUID]:
    return {
        "introduction_id": introduction.id,
        "introducer_id": introduction.introducer_id,
        "from_person_id": introduction.from_person_id,
        "to_person_id": introduction.to_person_id,
    }


async def request(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    introducer_id: uuid.UUID | None,
    may_introduce_anyone: bool,
    data: IntroductionCreate,
) -> Introduction:
    """Offer to introduce `from` to `to`, as someone connected to both (or an org admin)."""
    if data.from_person_id == data.to_person_id:
        raise _invalid("to_person_id", "must differ from body.from_person_id")
    found = await present(
        session,
        organization_id,
        {data.from_person_id, data.to_person_id} | ({introducer_id} if introducer_id else set()),
    )
    for field in ("from_person_id", "to_person_id"):
        if getattr(data, field) not in found:
            raise _invalid(field, "no such person in this organization")
    if introducer_id not in found:
        raise Problem(403, "Introductions are made by a person of this organization")
    for field in ("from_person_id", "to_person_id"):
        if getattr(data, field) == introducer_id:
            raise _invalid(field, "you cannot introduce yourself; ask someone you both know")
    if await connected(session, organization_id, data.from_person_id, data.to_person_id):
        raise Problem(409, "These two people are already connected", slug="already-connected")
    if not may_introduce_anyone:
        for person_id in (data.from_person_id, data.to_person_id):
            if not await connected(session, organization_id, introducer_id, person_id):
                raise Problem(
                    409,
                    f"You can only introduce people you are connected to, and you are not "
                    f"connected to {person_id}",
                    slug="not-connected",
                )
    introduction = Introduction(
        organization_id=organization_id,
        introducer_id=introducer_id,
        from_person_id=data.from_person_id,
        to_person_id=data.to_person_id,
        note=data.note,
    )
    session.add(introduction)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if "uq_introduction_open_pair" not in str(exc.orig):
            raise
        raise Problem(
            409,
            "An introduction between these two people is already waiting for an answer",
            slug="introduction-open",
        ) from exc
    await publish(
        session,
        settings,
        contracts.IntroductionRequested(
            **_ids(introduction), note=introduction.note, requested_at=introduction.created_at
        ),
        tenant=organization_id,
    )
    return introduction


async def get(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    introduction_id: uuid.UUID,
    lock: bool = False,
) -> Introduction:
    """An introduction of the organization; another tenant's is simply not found."""
    return await get_in_tenant(
        session, Introduction, introduction_id, organization_id=organization_id, lock=lock
    )


async def decide(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    introduction_id: uuid.UUID,
    person_id: uuid.UUID | None,
    accept: bool,
) -> Introduction:
    """Accept (and connect the two) or decline, as the person introduced to; once only."""
    introduction = await get(
        session=session, organization_id=organization_id, introduction_id=introduction_id, lock=True
    )
    if person_id != introduction.to_person_id:
        raise Problem(403, "Only the person being introduced to may accept or decline")
    if introduction.status != "open":
        raise Problem(
            409, f"This introduction was already {introduction.status}", slug="already-decided"
        )
    introduction.status = "accepted" if accept else "declined"
    introduction.decided_at = datetime.now(UTC)
    session.add(introduction)
    await session.flush()
    if accept:
        await publish(
            session,
            settings,
            contracts.IntroductionAccepted(
                **_ids(introduction), accepted_at=introduction.decided_at
            ),
            tenant=organization_id,
        )
        await connect(
            session=session,
            settings=settings,
            organization_id=organization_id,
            people=(introduction.from_person_id, introduction.to_person_id),
            origin="introduction",
            source_id=introduction.id,
        )
    else:
        await publish(
            session,
            settings,
            contracts.IntroductionDeclined(
                **_ids(introduction), declined_at=introduction.decided_at
            ),
            tenant=organization_id,
        )
    return introduction


async def list_for(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    role: Role,
    status: IntroductionStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Introduction], str | None]:
    """The person's introductions in one role, newest first."""
    column = getattr(Introduction, _ROLE_COLUMN[role])
    query = select(Introduction).where(
        Introduction.organization_id == organization_id, column == person_id
    )
    if status:
        query = query.where(Introduction.status == status)
    return await keyset_page(
        session, query, Introduction, limit=limit, cursor=cursor, newest_first=True
    )
