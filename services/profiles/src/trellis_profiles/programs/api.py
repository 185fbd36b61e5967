"""Programs routes: parse, authorize, call the service, return.

The enrollment routes live in `enrollments_api` and are mounted on this router.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from trellis_profiles.deps import SessionDep, SettingsDep
from trellis_profiles.programs import service
from trellis_profiles.programs.enrollments_api import router as enrollments_router
from trellis_profiles.programs.models import (
    ProgramCreate,
    ProgramPublic,
    ProgramsPublic,
    ProgramUpdate,
)
from trellis_shared.auth import CurrentPrincipal, require_roles
from trellis_shared.concurrency import etag

router = APIRouter(prefix="/profiles", tags=["programs"])


@router.post(
    "/programs",
    status_code=201,
    response_model=ProgramPublic,
    dependencies=[require_roles("org_admin")],
    summary="Set up a program, with its cohort, enrollment window and matching settings",
)
async def create_program(
    body: ProgramCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> ProgramPublic:
    async with session.begin():
        program = await service.create(
            session=session, settings=settings, organization_id=principal.org, data=body
        )
    response.headers["Location"] = f"/profiles/programs/{program.id}"
    response.headers["ETag"] = etag(program.version)
    return ProgramPublic.model_validate(program)


@router.get(
    "/programs",
    response_model=ProgramsPublic,
    dependencies=[require_roles("org_admin", "member", "partner")],
    summary="The organization's programs, oldest first",
)
async def list_programs(
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ProgramsPublic:
    programs, next_cursor = await service.list_programs(
        session=session, organization_id=principal.org, limit=limit, cursor=cursor
    )
    return ProgramsPublic(
        data=[ProgramPublic.model_validate(p) for p in programs], next_cursor=next_cursor
    )


@router.get(
    "/programs/{program_id}",
    response_model=ProgramPublic,
    dependencies=[require_roles("org_admin", "member", "partner")],
    summary="Read a program",
)
async def read_program(
    program_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> ProgramPublic:
    program = await service.get(
        session=session, organization_id=principal.org, program_id=program_id
    )
    response.headers["ETag"] = etag(program.version)
    return ProgramPublic.model_validate(program)


@router.patch(
    "/programs/{program_id}",
    response_model=ProgramPublic,
    dependencies=[require_roles("org_admin")],
    summary="Change a program (send If-Match with the ETag you read; `matching` merges)",
)
async def update_program(
    program_id: uuid.UUID,
    body: ProgramUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> ProgramPublic:
    async with session.begin():
        program = await service.update(
            session=session,
            settings=settings,
            organization_id=principal.org,
            program_id=program_id,
            data=body,
            if_match=if_match,
        )
    response.headers["ETag"] = etag(program.version)
    return ProgramPublic.model_validate(program)


router.include_router(enrollments_router)
