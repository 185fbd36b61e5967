"""Stream tickets: how a browser opens the live inbox stream.

A browser's `EventSource` cannot send an `Authorization` header, and a bearer token in a URL ends
up in access logs, proxies and browser history for as long as it lives. So the client first asks
for a ticket with its bearer token (`POST /notifications/inbox/stream-tickets`), then opens
`GET /notifications/inbox/stream?ticket=...`. A ticket is an opaque random string, bound to the
caller's organization and person, valid for 60 seconds and good for one stream only: a URL that
leaks is worthless by the time anyone reads it.

Tickets are rows in notifications' own schema rather than signed tokens: a signed ticket would
still need a table of used ids to be single-use, so the row is the whole mechanism, and any
replica can redeem a ticket another one issued. Only the SHA-256 of a ticket is stored, so the
table itself holds nothing that opens a stream. Redeeming deletes the row in the statement that
reads it: two requests racing with one ticket cannot both win.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications.models import NotificationsTable, timestamp

TTL = timedelta(seconds=60)


class StreamTicket(NotificationsTable, table=True):
    __tablename__ = "stream_ticket"
    __table_args__ = (sa.Index("ix_stream_ticket_expires", "expires_at"),)

    ticket_hash: str = Field(primary_key=True, max_length=64)
    organization_id: uuid.UUID
    person_id: uuid.UUID
    expires_at: datetime = timestamp()
    created_at: datetime = timestamp()


class StreamTicketPublic(SQLModel):
    ticket: str = Field(description="Pass as `?ticket=` to `GET /notifications/inbox/stream`")
    expires_at: datetime = Field(description="Unused by then, it opens nothing")


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


async def issue(
    *, session: AsyncSession, organization_id: uuid.UUID, person_id: uuid.UUID
) -> tuple[str, datetime]:
    """A new ticket for the caller's own stream, and when it stops working."""
    now = datetime.now(UTC)
    # Tickets never redeemed are swept here, the only place they are made.
    await session.execute(sa.delete(StreamTicket).where(StreamTicket.expires_at < now))
    ticket = secrets.token_urlsafe(32)
    expires_at = now + TTL
    session.add(
        StreamTicket(
            ticket_hash=_hash(ticket),
            organization_id=organization_id,
            person_id=person_id,
            expires_at=expires_at,
            created_at=now,
        )
    )
    await session.flush()
    return ticket, expires_at


async def redeem(*, session: AsyncSession, ticket: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The (organization, person) a live ticket was issued to, using it up; None for a ticket
    that is unknown, already used or expired."""
    table = StreamTicket.__table__
    found = (
        await session.execute(
            sa.delete(table)
            .where(table.c.ticket_hash == _hash(ticket))
            .returning(table.c.organization_id, table.c.person_id, table.c.expires_at)
        )
    ).first()
    if found is None or found.expires_at <= datetime.now(UTC):
        return None
    return found.organization_id, found.person_id
