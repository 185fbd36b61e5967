"""Organizations: create and read.

A token's `org` claim is the tenant for every other route, whether or not an organization row
exists for it: people, programs and enrollments are keyed by that id alone (no foreign key, no
lookup). Tenants that predate this table, or that are provisioned outside Trellis, keep working;
nothing else should start requiring the row.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_profiles.events import publish
from trellis_profiles.organizations.models import Organization, OrganizationCreate
from trellis_shared.contracts import profiles as contracts
from trellis_shared.problems import Problem
from trellis_shared.settings import ServiceSettings


def _slug_of(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50].strip("-")
    return slug if len(slug) >= 2 else f"org-{uuid.uuid4().hex[:8]}"


async def _insert(session: AsyncSession, organization: Organization) -> bool:
    try:
        # Added inside the savepoint: begin_nested() flushes what is pending before it starts.
        async with session.begin_nested():
            session.add(organization)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def create(
    *, session: AsyncSession, settings: ServiceSettings, data: OrganizationCreate
) -> Organization:
    """Create a tenant and announce it; the event's tenant is the new organization itself."""
    organization = Organization(name=data.name, slug=data.slug or _slug_of(data.name))
    if not await _insert(session, organization):
        if data.slug is not None:
            raise Problem(
                409,
                f"The slug {data.slug!r} is taken",
                slug="duplicate-slug",
                errors=[{"field": "body.slug", "message": "already taken"}],
            )
        # The caller did not choose the slug, so a suffix is better than refusing.
        organization = Organization(
            name=data.name, slug=f"{organization.slug[:54]}-{uuid.uuid4().hex[:8]}"
        )
        if not await _insert(session, organization):
            raise Problem(409, "Could not derive a free slug; send one", slug="duplicate-slug")
    await publish(
        session,
        settings,
        contracts.OrganizationCreated(
            organization_id=organization.id,
            name=organization.name,
            created_at=organization.created_at,
        ),
        tenant=organization.id,
    )
    return organization


async def get(*, session: AsyncSession, organization_id: uuid.UUID) -> Organization:
    """An organization by id."""
    organization = (
        await session.exec(select(Organization).where(Organization.id == organization_id))
    ).first()
    if organization is None:
        raise Problem(404, f"No organization {organization_id}")
    return organization
