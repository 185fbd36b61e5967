"""Run routes: start a cohort run, follow it."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from trellis_matching.runs import service
from trellis_matching.runs.models import RunCreate, RunPublic
from trellis_shared.auth import CurrentPrincipal, require_roles
from trellis_shared.db import SessionDep

router = APIRouter(prefix="/matching", tags=["runs"], dependencies=[require_roles("org_admin")])


@router.post(
    "/programs/{program_id}/runs",
    status_code=202,
    response_model=RunPublic,
    summary="Match the program's cohort (optimal or stable); non-dry runs create proposals",
)
async def start_run(
    program_id: uuid.UUID,
    body: RunCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    request: Request,
    response: Response,
) -> RunPublic:
    async with session.begin():
        run = await service.create(
            session=session, organization_id=principal.org, program_id=program_id, data=body
        )
    service.start_in_background(request.app.state.runtime.sessionmaker, run.id)
    response.headers["Location"] = f"/matching/runs/{run.id}"
    return RunPublic.model_validate(run)


@router.get(
    "/runs/{run_id}", response_model=RunPublic, summary="A run's status, progress and results"
)
async def read_run(
    run_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> RunPublic:
    return RunPublic.model_validate(
        await service.get(session=session, organization_id=principal.org, run_id=run_id)
    )
