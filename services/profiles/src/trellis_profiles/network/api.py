"""Network routes: connections, the network query, introductions and achievements."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from trellis_profiles.deps import SessionDep, SettingsDep
from trellis_profiles.network import achievements, introductions, service
from trellis_profiles.network.models import (
    AchievementCreate,
    AchievementPublic,
    AchievementsPublic,
    ConnectedPerson,
    ConnectionPublic,
    ConnectionsPublic,
    IntroductionCreate,
    IntroductionPublic,
    IntroductionsPublic,
    IntroductionStatus,
    NetworkPerson,
    NetworkPublic,
    PersonRef,
)
from trellis_shared.auth import CurrentPrincipal, Principal, require_roles
from trellis_shared.problems import Problem

router = APIRouter(prefix="/profiles", tags=["network"])

Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]


def _self_or_admin(principal: Principal, person_id: uuid.UUID, what: str) -> None:
    if not (principal.has_role("org_admin") or principal.person_id == person_id):
        raise Problem(403, f"Only the person or an org admin may {what}")


@router.get(
    "/people/{person_id}/connections",
    response_model=ConnectionsPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="A person's direct connections (the person or an org admin)",
)
async def list_connections(
    person_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ConnectionsPublic:
    _self_or_admin(principal, person_id, "see their connections")
    rows, next_cursor = await service.list_connections(
        session=session,
        organization_id=principal.org,
        person_id=person_id,
        limit=limit,
        cursor=cursor,
    )
    return ConnectionsPublic(
        data=[
            ConnectionPublic(
                id=connection.id,
                person=ConnectedPerson.model_validate(other, from_attributes=True),
                origin=connection.origin,
                source_id=connection.source_id,
                created_at=connection.created_at,
            )
            for connection, other in rows
        ],
        next_cursor=next_cursor,
    )


@router.get(
    "/people/{person_id}/network",
    response_model=NetworkPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="Who in a person's network has a skill, and who can introduce them",
)
async def read_network(
    person_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    depth: Annotated[int, Query(ge=1, le=3, description="How many connections away")] = 2,
    skill: Annotated[
        str | None, Query(max_length=100, description="Has this skill (any level)")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> NetworkPublic:
    _self_or_admin(principal, person_id, "query their network")
    found, next_cursor = await service.network(
        session=session,
        organization_id=principal.org,
        person_id=person_id,
        depth=depth,
        skill=skill,
        limit=limit,
        cursor=cursor,
    )
    return NetworkPublic(
        data=[
            NetworkPerson(
                id=r.person_id,
                full_name=r.full_name,
                headline=r.headline,
                skills=r.skills,
                distance=r.distance,
                introduced_by=PersonRef(**r.path[1]) if r.distance > 1 else None,
                path=[PersonRef(**step) for step in r.path],
            )
            for r in found
        ],
        next_cursor=next_cursor,
    )


@router.post(
    "/introductions",
    status_code=201,
    response_model=IntroductionPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="Introduce two people you are connected to (org admins: anyone in the org)",
)
async def request_introduction(
    body: IntroductionCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> IntroductionPublic:
    async with session.begin():
        introduction = await introductions.request(
            session=session,
            settings=settings,
            organization_id=principal.org,
            introducer_id=principal.person_id,
            may_introduce_anyone=principal.has_role("org_admin"),
            data=body,
        )
    response.headers["Location"] = f"/profiles/introductions/{introduction.id}"
    return IntroductionPublic.model_validate(introduction)


@router.get(
    "/introductions",
    response_model=IntroductionsPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="The caller's introductions: received, sent (as `from`) or made (as introducer)",
)
async def list_introductions(
    principal: CurrentPrincipal,
    session: SessionDep,
    role: Annotated[introductions.Role, Query()] = "received",
    status: Annotated[IntroductionStatus | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> IntroductionsPublic:
    if principal.person_id is None:
        return IntroductionsPublic(data=[])
    found, next_cursor = await introductions.list_for(
        session=session,
        organization_id=principal.org,
        person_id=principal.person_id,
        role=role,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return IntroductionsPublic(
        data=[IntroductionPublic.model_validate(i) for i in found], next_cursor=next_cursor
    )


@router.get(
    "/introductions/{introduction_id}",
    response_model=IntroductionPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="An introduction (its three people and org admins)",
)
async def read_introduction(
    introduction_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> IntroductionPublic:
    introduction = await introductions.get(
        session=session, organization_id=principal.org, introduction_id=introduction_id
    )
    involved = {
        introduction.introducer_id,
        introduction.from_person_id,
        introduction.to_person_id,
    }
    # Not a 403: whether two colleagues were introduced is itself not for others to learn.
    if not (principal.has_role("org_admin") or principal.person_id in involved):
        raise Problem(404, f"No introduction {introduction_id}")
    return IntroductionPublic.model_validate(introduction)


async def _decide(
    introduction_id: uuid.UUID,
    principal: Principal,
    session: SessionDep,
    settings: SettingsDep,
    *,
    accept: bool,
) -> IntroductionPublic:
    async with session.begin():
        introduction = await introductions.decide(
            session=session,
            settings=settings,
            organization_id=principal.org,
            introduction_id=introduction_id,
            person_id=principal.person_id,
            accept=accept,
        )
    return IntroductionPublic.model_validate(introduction)


@router.post(
    "/introductions/{introduction_id}/accept",
    response_model=IntroductionPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="Accept an introduction (the person introduced to): the two become connected",
)
async def accept_introduction(
    introduction_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> IntroductionPublic:
    return await _decide(introduction_id, principal, session, settings, accept=True)


@router.post(
    "/introductions/{introduction_id}/decline",
    response_model=IntroductionPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="Decline an introduction (the person introduced to)",
)
async def decline_introduction(
    introduction_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> IntroductionPublic:
    return await _decide(introduction_id, principal, session, settings, accept=False)


@router.post(
    "/people/{person_id}/achievements",
    status_code=201,
    response_model=AchievementPublic,
    dependencies=[require_roles("org_admin", "member")],
    summary="Share an achievement (the person or an org admin); partners may post it",
)
async def share_achievement(
    person_id: uuid.UUID,
    body: AchievementCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> AchievementPublic:
    _self_or_admin(principal, person_id, "share their achievements")
    async with session.begin():
        achievement = await achievements.share(
            session=session,
            settings=settings,
            organization_id=principal.org,
            person_id=person_id,
            data=body,
        )
    return AchievementPublic.model_validate(achievement)


@router.get(
    "/people/{person_id}/achievements",
    response_model=AchievementsPublic,
    dependencies=[require_roles("org_admin", "member", "partner")],
    summary="A person's achievements (any member of the organization)",
)
async def list_achievements(
    person_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AchievementsPublic:
    found, next_cursor = await achievements.list_for(
        session=session,
        organization_id=principal.org,
        person_id=person_id,
        limit=limit,
        cursor=cursor,
    )
    return AchievementsPublic(
        data=[AchievementPublic.model_validate(a) for a in found], next_cursor=next_cursor
    )
