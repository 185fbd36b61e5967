"""Every Kafka subscription of sessions: accepted matches start mentorships; profiles' facts
keep its directory current; an erased person's content is anonymized."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions import directory, erasure
from trellis_sessions.mentorships import service as mentorships
from trellis_shared.contracts import matching as m
from trellis_shared.contracts import profiles as p
from trellis_shared.db import Row
from trellis_shared.events import Event
from trellis_shared.inbox import Subscriptions

subscriptions = Subscriptions()


@subscriptions.on(m.MatchAccepted)
async def match_accepted(session: AsyncSession, event: Event[m.MatchAccepted]) -> None:
    await mentorships.start_from_match(session, event.tenant, event.data)


@subscriptions.projects(p.ProgramCreated)
@subscriptions.projects(p.ProgramUpdated)
def program_changed(event: Event) -> Row:
    return directory.program_row(event.tenant, event.data)


@subscriptions.projects(p.PersonRegistered)
@subscriptions.projects(p.PersonUpdated)
def person_changed(event: Event) -> Row:
    return directory.person_row(event.tenant, event.data)


@subscriptions.on(p.PersonErased)
async def person_erased(session: AsyncSession, event: Event[p.PersonErased]) -> None:
    await erasure.erase_person(session, event.tenant, event.data.person_id)
