"""Request-scoped dependencies."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from trellis_notifications.email import admins
from trellis_shared.auth import CurrentPrincipal, Principal
from trellis_shared.db import SessionDep  # noqa: F401  (re-exported for the routes)
from trellis_shared.problems import Problem


async def remember_admin(request: Request, principal: Principal) -> None:
    """Make an org admin with a person id a known admin of their organization: no event says who
    the admins are, so their requests here are how notifications learns it.

    Written once per app instance and admin, in a transaction of its own, so the route's session
    stays untouched and an admin's later requests cost a set lookup."""
    person_id = principal.person_id
    if person_id is None or not principal.has_role("org_admin"):
        return
    key = (principal.org, person_id)
    seen: set[tuple[uuid.UUID, uuid.UUID]] | None = getattr(request.app.state, "known_admins", None)
    if seen is None:
        seen = request.app.state.known_admins = set()
    if key in seen:
        return
    async with request.app.state.runtime.sessionmaker() as session, session.begin():
        await admins.record_admin(session, organization_id=principal.org, person_id=person_id)
    seen.add(key)


async def person_of(principal: CurrentPrincipal, request: Request) -> uuid.UUID:
    """The caller as a person with an inbox (a member or an org admin), else 403."""
    person_id = principal.person_id
    if person_id is None or not principal.has_role("member", "org_admin"):
        raise Problem(403, "Only a person has an inbox")
    await remember_admin(request, principal)
    return person_id


CallerPersonId = Annotated[uuid.UUID, Depends(person_of)]
