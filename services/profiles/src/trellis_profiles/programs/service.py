"""Programs, and joining one: the rules, each change announced through the outbox.

What happens to an enrollment afterwards (reading, changing, withdrawing) is in
`enrollments_service`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_profiles.events import publish
from trellis_profiles.people.models import Person
from trellis_profiles.programs.models import (
    Enrollment,
    EnrollmentCreate,
    Program,
    ProgramCreate,
    ProgramUpdate,
)
from trellis_shared.concurrency import require_if_match
from trellis_shared.contracts import profiles as contracts
from trellis_shared.db import get_in_tenant
from trellis_shared.pagination import keyset_page
from trellis_shared.problems import Problem
from trellis_shared.settings import ServiceSettings


def invalid(field: str, message: str, detail: str | None = None) -> Problem:
    return Problem(
        422,
        detail or f"Invalid body.{field}: {message}",
        errors=[{"field": f"body.{field}", "message": message}],
    )


def _from_validation(exc: ValidationError) -> Problem:
    errors = [
        {
            "field": ".".join(["body", *(str(part) for part in e["loc"])]),
            "message": str(e["msg"]).removeprefix("Value error, "),
        }
        for e in exc.errors()
    ]
    return Problem(422, f"Invalid {', '.join(e['field'] for e in errors)}", errors=errors)


# --- programs ----------------------------------------------------------------------------------


def _program_snapshot(program: Program) -> dict[str, Any]:
    return {
        "program_id": program.id,
        "name": program.name,
        "kind": program.kind,
        "cohort_starts_on": program.cohort_starts_on,
        "cohort_ends_on": program.cohort_ends_on,
        "enrollment_opens_on": program.enrollment_opens_on,
        "enrollment_closes_on": program.enrollment_closes_on,
        "meeting_cadence_days": program.meeting_cadence_days,
        "meeting_minutes": program.meeting_minutes,
        "health_threshold": program.health_threshold,
        "matching": program.matching,
        "version": program.version,
    }


def _check_kind(data: ProgramCreate) -> None:
    # The schema already names "group" so that clients can be written against it; the matching
    # and session model for groups is not built yet.
    if data.kind == "group":
        raise invalid(
            "kind",
            "group programs are not supported yet",
            "Invalid body.kind: group programs are not supported yet; use one_to_one",
        )


def _fields(data: ProgramCreate) -> dict[str, Any]:
    fields = data.model_dump(exclude={"matching"})
    fields["matching"] = data.matching.model_dump(mode="json")
    return fields


async def create(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    data: ProgramCreate,
) -> Program:
    """Set up a program in the organization and announce it."""
    _check_kind(data)
    program = Program(organization_id=organization_id, **_fields(data))
    session.add(program)
    await session.flush()
    await publish(
        session,
        settings,
        contracts.ProgramCreated(**_program_snapshot(program)),
        tenant=organization_id,
    )
    return program


async def get(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    program_id: uuid.UUID,
    lock: bool = False,
) -> Program:
    """A program of the organization; another tenant's program is simply not found."""
    return await get_in_tenant(
        session, Program, program_id, organization_id=organization_id, lock=lock
    )


async def list_programs(
    *, session: AsyncSession, organization_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Program], str | None]:
    """The organization's programs, oldest first."""
    query = select(Program).where(Program.organization_id == organization_id)
    return await keyset_page(session, query, Program, limit=limit, cursor=cursor)


def _merge(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


async def update(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    program_id: uuid.UUID,
    data: ProgramUpdate,
    if_match: str | None,
) -> Program:
    """Change the fields given, if the caller saw the current version."""
    program = await get(
        session=session, organization_id=organization_id, program_id=program_id, lock=True
    )
    require_if_match(if_match, program.version)
    changes = data.model_dump(mode="json", exclude_unset=True)
    if not changes:
        return program
    before = {name: getattr(program, name) for name in ProgramCreate.model_fields}
    # The merged program must pass every rule a new one does (end after start, capacities...).
    try:
        merged = ProgramCreate.model_validate(
            _merge(
                {k: v.isoformat() if isinstance(v, date) else v for k, v in before.items()},
                changes,
            )
        )
    except ValidationError as exc:
        raise _from_validation(exc) from exc
    _check_kind(merged)
    for name, value in _fields(merged).items():
        setattr(program, name, value)
    program.version += 1
    program.updated_at = datetime.now(UTC)
    session.add(program)
    await session.flush()
    await publish(
        session,
        settings,
        contracts.ProgramUpdated(**_program_snapshot(program)),
        tenant=organization_id,
    )
    return program


# --- enrollments -------------------------------------------------------------------------------


def enrollment_snapshot(enrollment: Enrollment) -> dict[str, Any]:
    return {
        "enrollment_id": enrollment.id,
        "program_id": enrollment.program_id,
        "person_id": enrollment.person_id,
        "role": enrollment.role,
        "capacity": enrollment.capacity,
        "goals": enrollment.goals,
        "topics": enrollment.topics,
        "status": enrollment.status,
        "version": enrollment.version,
    }


def check_role_fields(
    program: Program,
    role: str,
    capacity: int | None,
    goals: list[Any],
    topics: list[Any],
) -> int | None:
    """The capacity the enrollment gets, once what the role may carry has been checked."""
    if role == "mentee":
        if capacity is not None:
            raise invalid("capacity", "only mentors have a capacity")
        if topics:
            raise invalid("topics", "only mentors offer topics; mentees state goals")
        return None
    if goals:
        raise invalid("goals", "only mentees state goals; mentors offer topics")
    maximum = program.matching["max_mentor_capacity"]
    if capacity is None:
        return program.matching["default_mentor_capacity"]
    if not 0 <= capacity <= maximum:
        raise invalid("capacity", f"must be between 0 and the program's maximum ({maximum})")
    return capacity


def _check_window(program: Program, today: date) -> None:
    opens, closes = program.enrollment_opens_on, program.enrollment_closes_on
    if opens is not None and today < opens:
        raise Problem(
            409,
            f"Enrollment in this program opens on {opens.isoformat()}",
            slug="enrollment-not-open",
            opens_on=opens.isoformat(),
        )
    if closes is not None and today > closes:
        raise Problem(
            409,
            f"Enrollment in this program closed on {closes.isoformat()}",
            slug="enrollment-closed",
            closed_on=closes.isoformat(),
        )


async def enroll(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    program_id: uuid.UUID,
    data: EnrollmentCreate,
) -> Enrollment:
    """Enroll a person of the organization in one of its programs as mentor or mentee."""
    program = await get(session=session, organization_id=organization_id, program_id=program_id)
    person = await session.scalar(
        select(Person.id).where(
            Person.id == data.person_id, Person.organization_id == organization_id
        )
    )
    if person is None:
        raise invalid("person_id", "no such person in this organization")
    capacity = check_role_fields(program, data.role, data.capacity, data.goals, data.topics)
    _check_window(program, datetime.now(UTC).date())
    enrollment = Enrollment(
        organization_id=organization_id,
        program_id=program.id,
        person_id=data.person_id,
        role=data.role,
        capacity=capacity,
        goals=[goal.model_dump(mode="json") for goal in data.goals],
        topics=list(dict.fromkeys(data.topics)),
    )
    try:
        # Added inside the savepoint: begin_nested() flushes what is pending before it starts.
        async with session.begin_nested():
            session.add(enrollment)
            await session.flush()
    except IntegrityError as exc:
        if "uq_enrollment_active" in str(exc.orig):
            raise Problem(
                409,
                f"This person is already enrolled as {data.role} in this program",
                slug="duplicate-enrollment",
            ) from exc
        # The person was erased between the check and the insert.
        raise invalid("person_id", "no such person in this organization") from exc
    await publish(
        session,
        settings,
        contracts.EnrollmentCreated(**enrollment_snapshot(enrollment)),
        tenant=organization_id,
    )
    return enrollment
