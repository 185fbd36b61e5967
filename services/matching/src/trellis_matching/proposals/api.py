"""Proposal routes: manual proposals, mentee requests, listing and each side's decision."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from trellis_matching import scoring
from trellis_matching.proposals import service
from trellis_matching.proposals.models import (
    Decline,
    ManualProposal,
    MentorRequest,
    ProposalPublic,
    ProposalsPublic,
    ProposalStatus,
)
from trellis_shared.auth import CurrentPrincipal, require_roles
from trellis_shared.db import SessionDep
from trellis_shared.problems import Problem

router = APIRouter(prefix="/matching", tags=["proposals"])


@router.post(
    "/programs/{program_id}/proposals",
    status_code=201,
    response_model=ProposalPublic,
    dependencies=[require_roles("org_admin")],
    summary="Propose a specific pair (hard constraints still apply)",
)
async def propose_pair(
    program_id: uuid.UUID,
    body: ManualProposal,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
) -> ProposalPublic:
    async with session.begin():
        # A declined pair is a conflict with history (409), before any scoring rule (422).
        await service.refuse_declined_pair(
            session, principal.org, program_id, body.mentee, body.mentor
        )
        explained = await scoring.explain_pair(
            session, principal.org, program_id, mentee_id=body.mentee, mentor_id=body.mentor
        )
        proposal = await service.propose(
            session=session,
            organization_id=principal.org,
            program_id=program_id,
            mentee_id=body.mentee,
            mentor_id=body.mentor,
            score=explained.score,
            explanation=explained.factors,
            origin="manual",
        )
    response.headers["Location"] = f"/matching/proposals/{proposal.id}"
    return ProposalPublic.model_validate(proposal)


@router.post(
    "/programs/{program_id}/requests",
    status_code=201,
    response_model=ProposalPublic,
    dependencies=[require_roles("member", "org_admin")],
    summary="A mentee asks a mentor: a proposal the mentee has already accepted",
)
async def request_mentor(
    program_id: uuid.UUID,
    body: MentorRequest,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
) -> ProposalPublic:
    mentee_id = body.mentee or principal.person_id
    if mentee_id is None or (
        mentee_id != principal.person_id and not principal.has_role("org_admin")
    ):
        raise Problem(403, "A member may request a mentor for themselves only")
    async with session.begin():
        await service.refuse_declined_pair(
            session, principal.org, program_id, mentee_id, body.mentor
        )
        explained = await scoring.explain_pair(
            session, principal.org, program_id, mentee_id=mentee_id, mentor_id=body.mentor
        )
        proposal = await service.propose(
            session=session,
            organization_id=principal.org,
            program_id=program_id,
            mentee_id=mentee_id,
            mentor_id=body.mentor,
            score=explained.score,
            explanation=explained.factors,
            origin="request",
        )
        proposal = await service.accept(
            session=session,
            organization_id=principal.org,
            proposal_id=proposal.id,
            person_id=mentee_id,
        )
    response.headers["Location"] = f"/matching/proposals/{proposal.id}"
    return ProposalPublic.model_validate(proposal)


@router.get(
    "/proposals", response_model=ProposalsPublic, summary="Proposals (members see their own)"
)
async def list_proposals(
    principal: CurrentPrincipal,
    session: SessionDep,
    program: Annotated[uuid.UUID | None, Query()] = None,
    person: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[ProposalStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ProposalsPublic:
    if not principal.has_role("org_admin"):
        if principal.person_id is None or (person is not None and person != principal.person_id):
            raise Problem(403, "A member sees their own proposals only")
        person = principal.person_id
    found, next_cursor = await service.list_for(
        session=session,
        organization_id=principal.org,
        program_id=program,
        person_id=person,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return ProposalsPublic(
        data=[ProposalPublic.model_validate(p) for p in found], next_cursor=next_cursor
    )


@router.get("/proposals/{proposal_id}", response_model=ProposalPublic, summary="One proposal")
async def read_proposal(
    proposal_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> ProposalPublic:
    proposal = await service.get(
        session=session, organization_id=principal.org, proposal_id=proposal_id
    )
    if not principal.has_role("org_admin"):
        service.side_of(proposal, principal.person_id)
    return ProposalPublic.model_validate(proposal)


@router.post(
    "/proposals/{proposal_id}/accept", response_model=ProposalPublic, summary="Accept (your side)"
)
async def accept_proposal(
    proposal_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> ProposalPublic:
    async with session.begin():
        proposal = await service.accept(
            session=session,
            organization_id=principal.org,
            proposal_id=proposal_id,
            person_id=principal.person_id,
        )
    return ProposalPublic.model_validate(proposal)


@router.post(
    "/proposals/{proposal_id}/decline", response_model=ProposalPublic, summary="Decline (your side)"
)
async def decline_proposal(
    proposal_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    body: Decline | None = None,
) -> ProposalPublic:
    async with session.begin():
        proposal = await service.decline(
            session=session,
            organization_id=principal.org,
            proposal_id=proposal_id,
            person_id=principal.person_id,
            reason=body.reason if body else None,
        )
    return ProposalPublic.model_validate(proposal)
