"""Who may see and act on a mentorship: its two participants, and the organization's admins.

Anyone else is told it does not exist (404), exactly as for another tenant's mentorship.
"""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.mentorships.models import Mentorship, Side
from trellis_shared.auth import Principal
from trellis_shared.db import get_in_tenant
from trellis_shared.problems import Problem


def side_of(mentorship: Mentorship, person_id: uuid.UUID | None) -> Side | None:
    if person_id is not None and person_id == mentorship.mentor_id:
        return "mentor"
    if person_id is not None and person_id == mentorship.mentee_id:
        return "mentee"
    return None


async def visible(
    session: AsyncSession, principal: Principal, mentorship_id: uuid.UUID, *, lock: bool = False
) -> Mentorship:
    """The mentorship, if the caller is one of its participants or an org admin; else 404."""
    mentorship = await get_in_tenant(
        session, Mentorship, mentorship_id, organization_id=principal.org, lock=lock
    )
    if principal.has_role("org_admin") or side_of(mentorship, principal.person_id):
        return mentorship
    raise Problem(404, f"No mentorship {mentorship_id}")


def actor_of(mentorship: Mentorship, principal: Principal) -> str:
    """How the caller acts on the mentorship in events: mentor, mentee or admin."""
    return side_of(mentorship, principal.person_id) or "admin"


def participant_side(mentorship: Mentorship, principal: Principal) -> Side:
    """The caller's side, for acts only a participant can do (sign, check in, give feedback)."""
    side = side_of(mentorship, principal.person_id)
    if side is None:
        raise Problem(403, "Only the mentor or the mentee of this mentorship can do this")
    return side


def require_status(mentorship: Mentorship, *allowed: str, doing: str) -> None:
    """409 when the mentorship's state does not allow `doing`."""
    if mentorship.status not in allowed:
        raise Problem(
            409,
            f"Cannot {doing}: the mentorship is {mentorship.status}",
            slug="mentorship-state",
            status_now=mentorship.status,
        )
