"""Matching routes not owned by a subdomain: self-service suggestions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from trellis_matching import scoring
from trellis_shared.auth import CurrentPrincipal
from trellis_shared.db import SessionDep
from trellis_shared.problems import Problem

router = APIRouter(prefix="/matching", tags=["suggestions"])


class Factor(BaseModel):
    factor: str
    value: float
    weight: float
    reasons: list[str]


class Suggestion(BaseModel):
    mentor_id: uuid.UUID
    full_name: str
    score: float
    free_capacity: int
    factors: list[Factor]


class Suggestions(BaseModel):
    data: list[Suggestion]


@router.get(
    "/programs/{program_id}/suggestions",
    response_model=Suggestions,
    summary="A mentee's best mentors with free places, each score explained",
)
async def suggest(
    program_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    mentee: Annotated[uuid.UUID | None, Query(description="Defaults to the caller")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Suggestions:
    mentee_id = mentee or principal.person_id
    if mentee_id is None or (
        mentee_id != principal.person_id and not principal.has_role("org_admin")
    ):
        raise Problem(403, "A member sees suggestions for themselves only")
    found = await scoring.suggestions(
        session, principal.org, program_id, mentee_id=mentee_id, limit=limit
    )
    return Suggestions(data=[Suggestion.model_validate(s) for s in found])
