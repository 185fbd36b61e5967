"""Imports routes: upload a file of people, follow the job, read why rows failed."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from trellis_profiles.deps import SessionDep
from trellis_profiles.imports import runner, service
from trellis_profiles.imports.models import ImportPublic, RowErrorsPublic
from trellis_shared.auth import CurrentPrincipal, require_roles
from trellis_shared.problems import Problem

router = APIRouter(prefix="/profiles/imports", tags=["imports"])

_FILE = {"schema": {"type": "string", "format": "binary"}}
_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "description": (
            "The file itself as the body: CSV with a header row, or JSON lines (one object per "
            "line). Columns are the fields of a person (external_id required: people are "
            "matched by it) and optionally an enrollment: program_id, role, capacity, topics, "
            "goals. In CSV, lists are ';'-separated: skills 'name:level', languages 'en;es-MX', "
            "availability '0 09:00-12:00', goals 'category:text', demographics 'key:value'. "
            f"At most {service.MAX_BODY_BYTES // (1024 * 1024)} MB."
        ),
        "content": {media_type: _FILE for media_type in service.MEDIA_TYPES},
    }
}


async def _read_body(request: Request) -> bytes:
    """The request body, refused past the size limit without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > service.MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > service.MAX_BODY_BYTES:
            raise _too_large()
    return bytes(body)


def _too_large() -> Problem:
    return Problem(413, f"An import file is limited to {service.MAX_BODY_BYTES} bytes")


@router.post(
    "",
    status_code=202,
    response_model=ImportPublic,
    dependencies=[require_roles("org_admin")],
    summary="Import people (and enrollments) from a CSV or JSON-lines file, as a background job",
    openapi_extra=_UPLOAD_DOC,
    responses={
        413: {"description": "The file is larger than an import takes"},
        415: {"description": "The file is neither CSV nor JSON lines"},
    },
)
async def create_import(
    request: Request, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> ImportPublic:
    file_format = service.format_of(request.headers.get("content-type"))
    body = await _read_body(request)
    async with session.begin():
        job = await service.create(
            session=session,
            organization_id=principal.org,
            requested_by=principal.sub,
            file_format=file_format,
            body=body,
        )
    runner.start(request.app.state.runtime, job.id)
    response.headers["Location"] = f"/profiles/imports/{job.id}"
    return ImportPublic.of(job)


@router.get(
    "/{import_id}",
    response_model=ImportPublic,
    dependencies=[require_roles("org_admin")],
    summary="An import's progress and counts",
)
async def read_import(
    import_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> ImportPublic:
    job = await service.get(session=session, organization_id=principal.org, import_id=import_id)
    return ImportPublic.of(job)


@router.get(
    "/{import_id}/errors",
    response_model=RowErrorsPublic,
    dependencies=[require_roles("org_admin")],
    summary="The rows that were not imported, with the problems of each field, in file order",
)
async def list_import_errors(
    import_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> RowErrorsPublic:
    errors, next_cursor = await service.list_errors(
        session=session,
        organization_id=principal.org,
        import_id=import_id,
        limit=limit,
        cursor=cursor,
    )
    return RowErrorsPublic(data=errors, next_cursor=next_cursor)
