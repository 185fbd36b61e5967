"""Profiles HTTP routes: parse, authorize, call the service, return."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from trellis_profiles import service
from trellis_profiles.deps import SessionDep, SettingsDep
from trellis_profiles.models import PersonCreate, PersonPublic
from trellis_shared.auth import CurrentPrincipal, require_roles
from trellis_shared.problems import Problem

router = APIRouter(prefix="/profiles", tags=["people"])


@router.post(
    "/people",
    status_code=201,
    response_model=PersonPublic,
    dependencies=[require_roles("org_admin")],
    summary="Register a person in the caller's organization",
)
async def create_person(
    body: PersonCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> PersonPublic:
    async with session.begin():
        person = await service.register_person(
            session=session, settings=settings, organization_id=principal.org, data=body
        )
    response.headers["Location"] = f"/profiles/people/{person.id}"
    response.headers["ETag"] = f'W/"{person.version}"'
    return PersonPublic.model_validate(person, from_attributes=True)


@router.get("/people/{person_id}", response_model=PersonPublic, summary="Read a person's profile")
async def read_person(
    person_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> PersonPublic:
    if not principal.has_role("org_admin", "member", "partner"):
        raise Problem(403, "This action needs an organization role")
    person = await service.get_person(
        session=session, organization_id=principal.org, person_id=person_id
    )
    response.headers["ETag"] = f'W/"{person.version}"'
    return PersonPublic.model_validate(person, from_attributes=True)
