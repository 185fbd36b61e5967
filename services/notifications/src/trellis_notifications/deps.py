"""Request-scoped dependencies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_shared.auth import CurrentPrincipal
from trellis_shared.problems import Problem


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.sessionmaker() as session:
        yield session


async def _person(principal: CurrentPrincipal) -> uuid.UUID:
    person_id = principal.person_id
    if person_id is None or not principal.has_role("member", "org_admin"):
        raise Problem(403, "Only a person has an inbox")
    return person_id


SessionDep = Annotated[AsyncSession, Depends(_session)]
CallerPersonId = Annotated[uuid.UUID, Depends(_person)]
