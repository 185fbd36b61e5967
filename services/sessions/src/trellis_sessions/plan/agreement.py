"""The agreement: drafted by the two participants, signed by both, re-signed after any change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.events import identity, publish
from trellis_sessions.mentorships.access import require_status
from trellis_sessions.mentorships.models import Mentorship, Side
from trellis_sessions.mentorships.service import OPEN
from trellis_sessions.plan.models import Agreement
from trellis_sessions.plan.schemas import AgreementWrite
from trellis_shared.concurrency import require_if_match
from trellis_shared.contracts import sessions as contracts
from trellis_shared.problems import Problem


async def find(*, session: AsyncSession, mentorship: Mentorship) -> Agreement | None:
    return await session.scalar(
        select(Agreement).where(
            Agreement.mentorship_id == mentorship.id,
            Agreement.organization_id == mentorship.organization_id,
        )
    )


async def get(*, session: AsyncSession, mentorship: Mentorship) -> Agreement:
    """The mentorship's agreement; 404 until someone has drafted it."""
    agreement = await find(session=session, mentorship=mentorship)
    if agreement is None:
        raise Problem(404, f"Mentorship {mentorship.id} has no agreement yet", slug="no-agreement")
    return agreement


async def put(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    data: AgreementWrite,
    if_match: str | None,
) -> tuple[Agreement, bool]:
    """Draft the agreement, or replace it (If-Match); True when it was created.

    A change clears both signatures and bumps the version: each side signs what it read. The
    agreed cadence and length become the mentorship's, so health judges the rhythm the two chose.
    """
    require_status(mentorship, *OPEN, doing="change the agreement")
    values: dict[str, Any] = data.model_dump()
    values["cadence_days"] = data.cadence_days or mentorship.cadence_days
    values["meeting_minutes"] = data.meeting_minutes or mentorship.meeting_minutes
    agreement = await find(session=session, mentorship=mentorship)
    created = agreement is None
    if agreement is None:
        agreement = Agreement(
            mentorship_id=mentorship.id, organization_id=mentorship.organization_id, **values
        )
    else:
        require_if_match(if_match, agreement.version)
        if all(getattr(agreement, name) == value for name, value in values.items()):
            return agreement, False
        for name, value in values.items():
            setattr(agreement, name, value)
        agreement.mentor_signed_at = agreement.mentee_signed_at = None
        agreement.version += 1
        agreement.updated_at = datetime.now(UTC)
    session.add(agreement)
    _adopt_rhythm(session, mentorship, agreement)
    await session.flush()
    return agreement, created


def _adopt_rhythm(session: AsyncSession, mentorship: Mentorship, agreement: Agreement) -> None:
    agreed = (agreement.cadence_days, agreement.meeting_minutes)
    if (mentorship.cadence_days, mentorship.meeting_minutes) == agreed:
        return
    mentorship.cadence_days, mentorship.meeting_minutes = agreed
    mentorship.version += 1
    session.add(mentorship)


async def sign(
    *, session: AsyncSession, mentorship: Mentorship, side: Side, version: int
) -> Agreement:
    """Sign the version the signer read; stale or repeated signatures are conflicts."""
    require_status(mentorship, *OPEN, doing="sign the agreement")
    agreement = await get(session=session, mentorship=mentorship)
    if version != agreement.version:
        raise Problem(
            409,
            f"You read version {version} of the agreement but it is now version "
            f"{agreement.version}: read it again and sign what it says now",
            slug="agreement-changed",
            current_version=agreement.version,
        )
    signed_field = f"{side}_signed_at"
    if getattr(agreement, signed_field) is not None:
        raise Problem(
            409,
            f"The {side} has already signed version {agreement.version} of the agreement",
            slug="already-signed",
        )
    now = datetime.now(UTC)
    setattr(agreement, signed_field, now)
    session.add(agreement)
    await session.flush()
    await publish(
        session,
        contracts.AgreementSigned(
            **identity(mentorship),
            agreement_version=agreement.version,
            signed_by=side,
            complete=agreement.state == "signed",
            signed_at=now,
        ),
        tenant=mentorship.organization_id,
    )
    return agreement
