"""Connections, and the network query that walks them."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_profiles.events import publish
from trellis_profiles.network.models import Connection, Origin
from trellis_profiles.people.models import Person
from trellis_shared.contracts import profiles as contracts
from trellis_shared.pagination import decode_cursor, encode_cursor
from trellis_shared.problems import Problem
from trellis_shared.settings import ServiceSettings


async def present(
    session: AsyncSession, organization_id: uuid.UUID, person_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of `person_ids` are people of the organization, held until the transaction ends.

    FOR KEY SHARE keeps them from being erased meanwhile, so rows that reference them
    cannot fail on their foreign keys.
    """
    query = (
        select(Person.id)
        .where(Person.organization_id == organization_id, col(Person.id).in_(list(person_ids)))
        .with_for_update(read=True, key_share=True)
    )
    return set((await session.exec(query)).all())


async def connected(
    session: AsyncSession, organization_id: uuid.UUID, one: uuid.UUID, other: uuid.UUID
) -> bool:
    """Whether the two people are connected."""
    a, b = sorted((one, other))
    found = await session.scalar(
        select(Connection.id).where(
            Connection.organization_id == organization_id,
            Connection.person_a_id == a,
            Connection.person_b_id == b,
        )
    )
    return found is not None


async def connect(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    people: tuple[uuid.UUID, uuid.UUID],
    origin: Origin,
    source_id: uuid.UUID,
) -> Connection | None:
    """Connect two people of the organization once; None when already connected or gone."""
    a, b = sorted(people)
    if a == b or len(await present(session, organization_id, (a, b))) < 2:
        return None
    connection = Connection(
        organization_id=organization_id,
        person_a_id=a,
        person_b_id=b,
        origin=origin,
        source_id=source_id,
    )
    # ON CONFLICT rather than a read first: a match and an introduction may connect the same
    # pair at the same moment, and only the first is announced.
    inserted = await session.scalar(
        pg.insert(Connection)
        .values(**connection.model_dump())
        .on_conflict_do_nothing(constraint="uq_connection_pair")
        .returning(Connection.id)
    )
    if inserted is None:
        return None
    await publish(
        session,
        settings,
        contracts.ConnectionCreated(
            connection_id=connection.id,
            person_a_id=a,
            person_b_id=b,
            origin=origin,
            created_at=connection.created_at,
        ),
        tenant=organization_id,
    )
    return connection


async def list_connections(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[Connection, Person]], str | None]:
    """The person's direct connections, each with the other side, oldest first."""
    # Someone not of the organization is not found, rather than a person with no connections.
    me = await session.scalar(
        select(Person.id).where(Person.id == person_id, Person.organization_id == organization_id)
    )
    if me is None:
        raise Problem(404, f"No person {person_id}")
    other = sa.case(
        (Connection.person_a_id == person_id, Connection.person_b_id),
        else_=Connection.person_a_id,
    )
    query = (
        select(Connection, Person)
        .join(Person, Person.id == other)
        .where(
            Connection.organization_id == organization_id,
            Person.organization_id == organization_id,
            sa.or_(Connection.person_a_id == person_id, Connection.person_b_id == person_id),
        )
    )
    if cursor:
        at, last_id = decode_cursor(cursor)
        query = query.where(
            sa.tuple_(Connection.created_at, Connection.id) > sa.tuple_(at, last_id)
        )
    query = query.order_by(col(Connection.created_at), col(Connection.id)).limit(limit + 1)
    rows = [(c, p) for c, p in (await session.exec(query)).all()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1][0].created_at, rows[-1][0].id)
    return rows, next_cursor


@dataclass(frozen=True)
class Reached:
    """Someone the network query found: the person, how far, and a shortest path to them."""

    person_id: uuid.UUID
    full_name: str
    headline: str | None
    skills: list[dict[str, Any]]
    distance: int
    path: list[dict[str, Any]]


# Breadth-first over the organization's connections, in two passes so that the work grows with
# the edges reached rather than with the number of paths (degree ** depth):
# `walk` holds each (person, hops, parent) once — UNION drops repeats — and `reached` keeps,
# per person, the fewest hops and one parent a hop closer. Following parents back from a target
# therefore always gives a shortest path; the smallest parent id keeps answers stable.
_NETWORK_SQL = sa.text(
    """
WITH RECURSIVE
walk (person_id, hops, parent_id) AS (
    SELECT CAST(:me AS uuid), 0, CAST(NULL AS uuid)
    UNION
    SELECT neighbour.id, walk.hops + 1, walk.person_id
    FROM walk CROSS JOIN LATERAL (
        SELECT person_b_id FROM connection
        WHERE organization_id = :org AND person_a_id = walk.person_id
        UNION ALL
        SELECT person_a_id FROM connection
        WHERE organization_id = :org AND person_b_id = walk.person_id
    ) AS neighbour (id)
    WHERE walk.hops < :depth
),
reached AS (
    SELECT DISTINCT ON (person_id) person_id, hops, parent_id
    FROM walk
    ORDER BY person_id, hops, parent_id
),
target AS (
    SELECT reached.person_id, reached.hops
    FROM reached JOIN person ON person.id = reached.person_id
    WHERE person.organization_id = :org
      AND reached.hops > 0
      AND (CAST(:skill AS text) IS NULL OR person.skill_names @> ARRAY[CAST(:skill AS text)])
      AND (reached.hops, reached.person_id) > (:after_hops, CAST(:after_id AS uuid))
    ORDER BY reached.hops, reached.person_id
    LIMIT :limit
),
route (target_id, node_id, path) AS (
    SELECT person_id, person_id, ARRAY[person_id] FROM target
    UNION ALL
    SELECT route.target_id, reached.parent_id, reached.parent_id || route.path
    FROM route JOIN reached ON reached.person_id = route.node_id
    WHERE reached.parent_id IS NOT NULL
)
SELECT target.hops AS distance, person.id AS person_id, person.full_name, person.headline,
       person.skills,
       (SELECT jsonb_agg(jsonb_build_object('id', step.id, 'full_name', step.full_name)
                         ORDER BY hop.n)
        FROM unnest(route.path) WITH ORDINALITY AS hop (id, n)
        JOIN person AS step ON step.id = hop.id AND step.organization_id = :org) AS path
FROM target
JOIN route ON route.target_id = target.person_id AND route.node_id = CAST(:me AS uuid)
JOIN person ON person.id = target.person_id
ORDER BY target.hops, target.person_id
"""
).columns(
    distance=sa.Integer,
    person_id=sa.Uuid,
    full_name=sa.Text,
    headline=sa.Text,
    skills=pg.JSONB,
    path=pg.JSONB,
)


async def network(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    depth: int,
    skill: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Reached], str | None]:
    """People within `depth` connections of the person (with `skill`), nearest first."""
    me = await session.scalar(
        select(Person.id).where(Person.id == person_id, Person.organization_id == organization_id)
    )
    if me is None:
        raise Problem(404, f"No person {person_id}")
    skill = skill.strip().lower() if skill and skill.strip() else None
    after_hops, after_id = _decode_network_cursor(cursor) if cursor else (0, uuid.UUID(int=0))
    result = await (await session.connection()).execute(
        _NETWORK_SQL,
        {
            "me": person_id,
            "org": organization_id,
            "depth": depth,
            "skill": skill,
            "after_hops": after_hops,
            "after_id": after_id,
            "limit": limit + 1,
        },
    )
    found = [
        Reached(
            person_id=row.person_id,
            full_name=row.full_name,
            headline=row.headline,
            skills=[s for s in row.skills if skill is None or s["name"].lower() == skill],
            distance=row.distance,
            path=row.path,
        )
        for row in result
    ]
    next_cursor = None
    if len(found) > limit:
        found = found[:limit]
        next_cursor = _encode_network_cursor(found[-1].distance, found[-1].person_id)
    return found, next_cursor


def _encode_network_cursor(hops: int, person_id: uuid.UUID) -> str:
    raw = json.dumps([hops, str(person_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_network_cursor(cursor: str) -> tuple[int, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        hops, person_id = json.loads(raw)
        if not isinstance(hops, int):
            raise TypeError("hops")
        return hops, uuid.UUID(person_id)
    except (ValueError, TypeError) as exc:
        raise Problem(
            422,
            "Invalid query.cursor: not a cursor this API issued",
            errors=[{"field": "query.cursor", "message": "malformed cursor"}],
        ) from exc
