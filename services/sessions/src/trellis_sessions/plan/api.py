"""Routes of the plan area: the agreement here, goals and milestones in goals_api."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from trellis_sessions.mentorships.access import participant_side, visible
from trellis_sessions.plan import agreement as service
from trellis_sessions.plan.goals_api import router as goals_router
from trellis_sessions.plan.models import Agreement
from trellis_sessions.plan.schemas import AgreementPublic, AgreementWrite, Signature
from trellis_shared.auth import CurrentPrincipal
from trellis_shared.concurrency import etag
from trellis_shared.db import SessionDep

router = APIRouter(prefix="/sessions", tags=["plan"])
router.include_router(goals_router)


def _shown(agreement: Agreement, response: Response) -> AgreementPublic:
    response.headers["ETag"] = etag(agreement.version)
    return AgreementPublic.model_validate(agreement)


@router.get(
    "/mentorships/{mentorship_id}/agreement",
    response_model=AgreementPublic,
    summary="The agreement, its version (ETag) and who has signed it",
)
async def read_agreement(
    mentorship_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> AgreementPublic:
    mentorship = await visible(session, principal, mentorship_id)
    return _shown(await service.get(session=session, mentorship=mentorship), response)


@router.put(
    "/mentorships/{mentorship_id}/agreement",
    response_model=AgreementPublic,
    responses={201: {"model": AgreementPublic, "description": "The first draft"}},
    summary="Draft or replace the agreement (If-Match once it exists; a change needs re-signing)",
)
async def put_agreement(
    mentorship_id: uuid.UUID,
    body: AgreementWrite,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> AgreementPublic:
    async with session.begin():
        mentorship = await visible(session, principal, mentorship_id, lock=True)
        participant_side(mentorship, principal)
        agreement, created = await service.put(
            session=session, mentorship=mentorship, data=body, if_match=if_match
        )
    if created:
        response.status_code = 201
        response.headers["Location"] = f"/sessions/mentorships/{mentorship_id}/agreement"
    return _shown(agreement, response)


@router.post(
    "/mentorships/{mentorship_id}/agreement/sign",
    response_model=AgreementPublic,
    summary="Sign the version you read (a participant; both must sign the same version)",
)
async def sign_agreement(
    mentorship_id: uuid.UUID,
    body: Signature,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
) -> AgreementPublic:
    async with session.begin():
        mentorship = await visible(session, principal, mentorship_id, lock=True)
        side = participant_side(mentorship, principal)
        agreement = await service.sign(
            session=session, mentorship=mentorship, side=side, version=body.version
        )
    return _shown(agreement, response)
