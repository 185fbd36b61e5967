"""Organizations routes: parse, authorize, call the service, return."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from trellis_profiles.deps import SessionDep, SettingsDep
from trellis_profiles.organizations import service
from trellis_profiles.organizations.models import OrganizationCreate, OrganizationPublic
from trellis_shared.auth import CurrentPrincipal, require_roles
from trellis_shared.problems import Problem

router = APIRouter(prefix="/profiles", tags=["organizations"])


@router.post(
    "/organizations",
    status_code=201,
    response_model=OrganizationPublic,
    dependencies=[require_roles("platform_admin")],
    summary="Create an organization (a tenant)",
)
async def create_organization(
    body: OrganizationCreate, session: SessionDep, settings: SettingsDep, response: Response
) -> OrganizationPublic:
    async with session.begin():
        organization = await service.create(session=session, settings=settings, data=body)
    response.headers["Location"] = f"/profiles/organizations/{organization.id}"
    return OrganizationPublic.model_validate(organization)


@router.get(
    "/organizations/{organization_id}",
    response_model=OrganizationPublic,
    dependencies=[require_roles("platform_admin", "org_admin", "member", "partner")],
    summary="Read an organization (platform admins: any; everyone else: their own)",
)
async def read_organization(
    organization_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> OrganizationPublic:
    if not principal.has_role("platform_admin") and organization_id != principal.org:
        # Another tenant answers exactly like a missing one.
        raise Problem(404, f"No organization {organization_id}")
    organization = await service.get(session=session, organization_id=organization_id)
    return OrganizationPublic.model_validate(organization)
