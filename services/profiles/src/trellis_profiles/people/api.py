"""People routes: parse, authorize, call the service, return."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from trellis_profiles.deps import SessionDep, SettingsDep
from trellis_profiles.people import service
from trellis_profiles.people.models import (
    PeoplePublic,
    Person,
    PersonCreate,
    PersonPrivate,
    PersonPublic,
    PersonUpdate,
)
from trellis_shared.auth import CurrentPrincipal, Principal, require_roles
from trellis_shared.concurrency import etag
from trellis_shared.db import ReaderDep
from trellis_shared.problems import Problem

router = APIRouter(prefix="/profiles/people", tags=["people"])


def _view(principal: Principal, person: Person | dict[str, Any]) -> PersonPublic | PersonPrivate:
    """Org admins and the person see everything; other members see the public profile."""
    person_id = person["id"] if isinstance(person, dict) else person.id
    if principal.has_role("org_admin") or principal.person_id == person_id:
        return PersonPrivate.model_validate(person)
    return PersonPublic.model_validate(person)


def _may_edit(principal: Principal, person_id: uuid.UUID) -> None:
    if not (principal.has_role("org_admin") or principal.person_id == person_id):
        raise Problem(403, "Only the person or an org admin may change this profile")


@router.post(
    "",
    status_code=201,
    response_model=PersonPrivate,
    dependencies=[require_roles("org_admin")],
    summary="Register a person in the caller's organization",
)
async def create_person(
    body: PersonCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> PersonPrivate:
    async with session.begin():
        person = await service.register(
            session=session, settings=settings, organization_id=principal.org, data=body
        )
    response.headers["Location"] = f"/profiles/people/{person.id}"
    response.headers["ETag"] = etag(person.version)
    return PersonPrivate.model_validate(person)


@router.get(
    "",
    response_model=PeoplePublic,
    dependencies=[require_roles("org_admin", "member", "partner")],
    summary="Search the organization's people",
)
async def list_people(
    principal: CurrentPrincipal,
    session: SessionDep,
    skill: Annotated[
        str | None, Query(max_length=100, description="Has this skill (any level)")
    ] = None,
    language: Annotated[
        str | None, Query(max_length=35, description="Speaks this language (BCP 47)")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="Name or headline contains")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PeoplePublic:
    people, next_cursor = await service.search(
        session=session,
        organization_id=principal.org,
        skill=skill,
        language=language,
        q=q,
        limit=limit,
        cursor=cursor,
    )
    return PeoplePublic(data=[_view(principal, p) for p in people], next_cursor=next_cursor)


@router.get(
    "/{person_id}",
    response_model=PersonPrivate | PersonPublic,
    dependencies=[require_roles("org_admin", "member", "partner")],
    summary="Read a profile (public fields, or everything for the person and org admins)",
)
async def read_person(
    person_id: uuid.UUID, principal: CurrentPrincipal, reader: ReaderDep, response: Response
) -> PersonPrivate | PersonPublic:
    # The most read route: its one row comes without an ORM session (see trellis_shared.db.Reader).
    person = await reader.in_tenant(Person, person_id, organization_id=principal.org)
    response.headers["ETag"] = etag(person["version"])
    return _view(principal, person)


@router.patch(
    "/{person_id}",
    response_model=PersonPrivate,
    dependencies=[require_roles("org_admin", "member")],
    summary="Change a profile (send If-Match with the ETag you read)",
)
async def update_person(
    person_id: uuid.UUID,
    body: PersonUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> PersonPrivate:
    _may_edit(principal, person_id)
    async with session.begin():
        person = await service.update(
            session=session,
            settings=settings,
            organization_id=principal.org,
            person_id=person_id,
            data=body,
            if_match=if_match,
        )
    response.headers["ETag"] = etag(person.version)
    return PersonPrivate.model_validate(person)


@router.delete(
    "/{person_id}",
    status_code=204,
    dependencies=[require_roles("org_admin", "member")],
    summary="Erase a person: their data is removed here and every service is told to erase theirs",
)
async def erase_person(
    person_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> Response:
    _may_edit(principal, person_id)
    async with session.begin():
        await service.erase(
            session=session, settings=settings, organization_id=principal.org, person_id=person_id
        )
    return Response(status_code=204)
