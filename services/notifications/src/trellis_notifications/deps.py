"""Request-scoped dependencies."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from trellis_shared.auth import CurrentPrincipal
from trellis_shared.db import SessionDep  # noqa: F401  (re-exported for the routes)
from trellis_shared.problems import Problem


async def person_of(principal: CurrentPrincipal) -> uuid.UUID:
    """The caller as a person with an inbox (a member or an org admin), else 403."""
    person_id = principal.person_id
    if person_id is None or not principal.has_role("member", "org_admin"):
        raise Problem(403, "Only a person has an inbox")
    return person_id


CallerPersonId = Annotated[uuid.UUID, Depends(person_of)]
