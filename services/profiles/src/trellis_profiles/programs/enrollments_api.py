"""Enrollment routes: parse, authorize, call the service, return."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from trellis_profiles.deps import SessionDep, SettingsDep
from trellis_profiles.programs import enrollments_service, service
from trellis_profiles.programs.models import (
    Enrollment,
    EnrollmentCreate,
    EnrollmentPublic,
    EnrollmentsPublic,
    EnrollmentStatus,
    EnrollmentUpdate,
    Role,
)
from trellis_shared.auth import CurrentPrincipal, Principal, require_roles
from trellis_shared.concurrency import etag
from trellis_shared.problems import Problem

router = APIRouter(tags=["enrollments"])

Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]


def _only_person(principal: Principal) -> uuid.UUID | None:
    """None for an org admin (any person); otherwise the caller, who may act only for themselves."""
    if principal.has_role("org_admin"):
        return None
    if principal.person_id is None:
        raise Problem(403, "Only the enrolled person or an org admin may do this")
    return principal.person_id


def _public(response: Response, enrollment: Enrollment) -> EnrollmentPublic:
    response.headers["ETag"] = etag(enrollment.version)
    return EnrollmentPublic.model_validate(enrollment)


@router.post(
    "/programs/{program_id}/enrollments",
    status_code=201,
    response_model=EnrollmentPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="Enroll a person as mentor or mentee (members may enroll only themselves)",
)
async def create_enrollment(
    program_id: uuid.UUID,
    body: EnrollmentCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> EnrollmentPublic:
    only = _only_person(principal)
    if only is not None and only != body.person_id:
        raise Problem(403, "A member may enroll only themselves")
    async with session.begin():
        enrollment = await service.enroll(
            session=session,
            settings=settings,
            organization_id=principal.org,
            program_id=program_id,
            data=body,
        )
    response.headers["Location"] = f"/profiles/enrollments/{enrollment.id}"
    return _public(response, enrollment)


@router.get(
    "/programs/{program_id}/enrollments",
    response_model=EnrollmentsPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="A program's enrollments (members see mentors' and their own)",
)
async def list_program_enrollments(
    program_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    role: Role | None = None,
    status: EnrollmentStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> EnrollmentsPublic:
    visible_to = None
    if not principal.has_role("org_admin"):
        # A token whose subject is not a person sees no mentee's enrollment.
        visible_to = principal.person_id or uuid.UUID(int=0)
    enrollments, next_cursor = await enrollments_service.list_program_enrollments(
        session=session,
        organization_id=principal.org,
        program_id=program_id,
        role=role,
        status=status,
        visible_to=visible_to,
        limit=limit,
        cursor=cursor,
    )
    return EnrollmentsPublic(
        data=[EnrollmentPublic.model_validate(e) for e in enrollments], next_cursor=next_cursor
    )


@router.get(
    "/people/{person_id}/enrollments",
    response_model=EnrollmentsPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="A person's enrollments (the person or an org admin)",
)
async def list_person_enrollments(
    person_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> EnrollmentsPublic:
    only = _only_person(principal)
    if only is not None and only != person_id:
        raise Problem(403, "Only the person or an org admin may list their enrollments")
    enrollments, next_cursor = await enrollments_service.list_person_enrollments(
        session=session,
        organization_id=principal.org,
        person_id=person_id,
        limit=limit,
        cursor=cursor,
    )
    return EnrollmentsPublic(
        data=[EnrollmentPublic.model_validate(e) for e in enrollments], next_cursor=next_cursor
    )


@router.get(
    "/enrollments/{enrollment_id}",
    response_model=EnrollmentPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="Read an enrollment (a mentee's: the person or an org admin)",
)
async def read_enrollment(
    enrollment_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> EnrollmentPublic:
    enrollment = await enrollments_service.get_enrollment(
        session=session, organization_id=principal.org, enrollment_id=enrollment_id
    )
    if (
        enrollment.role == "mentee"
        and not principal.has_role("org_admin")
        and principal.person_id != enrollment.person_id
    ):
        raise Problem(403, "Only the person or an org admin may read a mentee's enrollment")
    return _public(response, enrollment)


@router.patch(
    "/enrollments/{enrollment_id}",
    response_model=EnrollmentPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="Change an active enrollment's capacity, goals or topics (send If-Match)",
)
async def update_enrollment(
    enrollment_id: uuid.UUID,
    body: EnrollmentUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> EnrollmentPublic:
    async with session.begin():
        enrollment = await enrollments_service.update_enrollment(
            session=session,
            settings=settings,
            organization_id=principal.org,
            enrollment_id=enrollment_id,
            data=body,
            if_match=if_match,
            only_person=_only_person(principal),
        )
    return _public(response, enrollment)


@router.post(
    "/enrollments/{enrollment_id}/withdraw",
    response_model=EnrollmentPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="Withdraw from a program (the enrolled person or an org admin)",
)
async def withdraw_enrollment(
    enrollment_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> EnrollmentPublic:
    async with session.begin():
        enrollment = await enrollments_service.withdraw(
            session=session,
            settings=settings,
            organization_id=principal.org,
            enrollment_id=enrollment_id,
            only_person=_only_person(principal),
        )
    return _public(response, enrollment)
