"""Routes of the health area: a mentorship's health, and a program's report."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from trellis_sessions.health import report, service
from trellis_sessions.health.models import HealthPublic, ReportPublic
from trellis_sessions.mentorships.access import visible
from trellis_shared.auth import CurrentPrincipal
from trellis_shared.db import SessionDep
from trellis_shared.problems import Problem

router = APIRouter(prefix="/sessions", tags=["health"])


@router.get(
    "/mentorships/{mentorship_id}/health",
    response_model=HealthPublic,
    summary="Health now: a 0-100 score with each component's reason, against the threshold",
)
async def read_health(
    mentorship_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> HealthPublic:
    mentorship = await visible(session, principal, mentorship_id)
    return await service.assess(session=session, mentorship=mentorship)


@router.get(
    "/programs/{program_id}/report",
    response_model=ReportPublic,
    summary="Program report (org admins): outcomes, and how match scores relate to them",
)
async def read_report(
    program_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> ReportPublic:
    if not principal.has_role("org_admin"):
        raise Problem(403, "Only the organization's admins can read a program's report")
    return await report.build(session=session, organization_id=principal.org, program_id=program_id)
