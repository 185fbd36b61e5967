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
from trellis_shared.events import Event, registered_contracts
from trellis_shared.inbox import Subscriptions

subscriptions = Subscriptions()

# Facts notifications keeps about people and programs, applied before the event's messages.
_BEFORE: dict[str, Callable[[AsyncSession, Event], Awaitable[None]]] = {
    p.PersonRegistered.event_type: lambda s, e: directory.record_person(s, e.tenant, e.data),
    p.PersonUpdated.event_type: lambda s, e: directory.record_person(s, e.tenant, e.data),
    p.ProgramCreated.event_type: lambda s, e: directory.record_program(s, e.tenant, e.data),
    p.ProgramUpdated.event_type: lambda s, e: directory.record_program(s, e.tenant, e.data),
}
# And after them: an erased person's confirmation is queued first, then everything else goes.
_AFTER: dict[str, Callable[[AsyncSession, Event], Awaitable[None]]] = {
    p.PersonErased.event_type: lambda s, e: erasure.erase_person(s, e.tenant, e.data.person_id),
    # Program admins who opted in hear about it too (who they are is a database fact).
    MentorshipAtRisk.event_type: admins.notify_admins,
}


async def handle(session: AsyncSession, event: Event) -> None:
    if (before := _BEFORE.get(event.type)) is not None:
        await before(session, event)
    await dispatch(session, event)
    await reminders.track(session, event)
    await webhooks.fan_out(session, event)
    if (after := _AFTER.get(event.type)) is not None:
        await after(session, event)


# Every other service's events: those in the catalog become messages, and partners may
# subscribe to any of them by webhook.
for _type, _contract in sorted(registered_contracts().items()):
    if not _type.startswith("trellis.notifications."):
        subscriptions.on(_contract)(handle)
assert set(RULES) | set(_BEFORE) | set(_AFTER) <= set(subscriptions.handlers)
