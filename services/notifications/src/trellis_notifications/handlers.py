"""Every Kafka subscription of notifications: each event updates the directory where it is a
profiles fact, then goes through the catalog (the messages it deserves)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlmodel.ext.asyncio.session import AsyncSession

import trellis_shared.contracts  # noqa: F401  (registers every contract)
from trellis_notifications import directory, erasure, reminders, webhooks
from trellis_notifications.catalog import RULES
from trellis_notifications.dispatch import dispatch
from trellis_notifications.email import admins
from trellis_shared.contracts import profiles as p
from trellis_shared.contracts.sessions import MentorshipAtRisk
from trellis_shared.db import upsert_all_if_newer
from trellis_shared.events import Event, registered_contracts
from trellis_shared.inbox import Projection, Subscriptions

subscriptions = Subscriptions()

# Facts notifications keeps about people and programs, recorded before the events' messages.
_FACTS: dict[str, Projection] = {
    p.PersonRegistered.event_type: directory.person_row,
    p.PersonUpdated.event_type: directory.person_row,
    p.ProgramCreated.event_type: directory.program_row,
    p.ProgramUpdated.event_type: directory.program_row,
}
# And after them: an erased person's confirmation is queued first, then everything else goes.
_AFTER: dict[str, Callable[[AsyncSession, Event], Awaitable[None]]] = {
    p.PersonErased.event_type: lambda s, e: erasure.erase_person(s, e.tenant, e.data.person_id),
    # Program admins who opted in hear about it too (who they are is a database fact).
    MentorshipAtRisk.event_type: admins.notify_admins,
}


async def handle(session: AsyncSession, events: list[Event]) -> None:
    """A batch's consecutive events of one type, as one after another would leave them: their
    facts, their messages, the reminders they plan or move, their partners' webhook deliveries.
    Together, a large import's registrations cost a few statements per batch, not per person."""
    event_type = events[0].type
    if (fact := _FACTS.get(event_type)) is not None:
        await upsert_all_if_newer(session, [fact(event) for event in events])
    await dispatch(session, events)
    for event in events:
        await reminders.track(session, event)
    await webhooks.fan_out(session, events)
    if (after := _AFTER.get(event_type)) is not None:
        for event in events:
            await after(session, event)


# Every other service's events: those in the catalog become messages, and partners may
# subscribe to any of them by webhook.
for _type, _contract in sorted(registered_contracts().items()):
    if not _type.startswith("trellis.notifications."):
        subscriptions.on_many(_contract)(handle)
assert set(RULES) | set(_FACTS) | set(_AFTER) <= set(subscriptions.handlers)
