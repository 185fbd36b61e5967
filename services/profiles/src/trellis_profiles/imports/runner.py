"""Imports run in the service process, batch by batch, and resume after a restart.

One batch is one transaction: its people and enrollments, their events (outbox), the error
records of its bad rows, the job's counters and `processed_rows` commit together, so a job stopped
anywhere resumes at the first row not yet committed. The job row is locked per batch, so two
processes resuming the same job take turns instead of importing a row twice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_profiles.imports.models import (
    PENDING,
    ImportRow,
    PersonImport,
    PersonImportError,
    PersonImportRow,
    read_row,
)
from trellis_profiles.models import utcnow
from trellis_profiles.people import service as people
from trellis_profiles.people.models import Person, PersonCreate, PersonPrivate, PersonUpdate
from trellis_profiles.programs import service as programs
from trellis_profiles.programs.models import EnrollmentCreate
from trellis_shared.concurrency import etag
from trellis_shared.contracts import profiles as contracts
from trellis_shared.outbox import emit_many, notify_channel
from trellis_shared.problems import Problem
from trellis_shared.settings import ServiceSettings

log = logging.getLogger("trellis.profiles.imports")

BATCH_SIZE = 500
MAX_ATTEMPTS = 5
_UNREACHABLE = (OSError, OperationalError, InterfaceError)


# --- the job ------------------------------------------------------------------------------------


def start(runtime: Any, import_id: uuid.UUID) -> None:
    """Import in the background of this process; the task ends with the service."""
    name = f"import-{import_id}"
    runtime.tasks[:] = [task for task in runtime.tasks if not task.done()]
    if any(task.get_name() == name for task in runtime.tasks):
        return
    runtime.tasks.append(
        asyncio.create_task(run(runtime.sessionmaker, runtime.spec.settings, import_id), name=name)
    )


async def resume_pending_imports(runtime: Any) -> list[uuid.UUID]:
    """Start again every import that an earlier process left queued or running."""
    delay = 0.5
    while True:
        try:
            async with runtime.sessionmaker() as session:
                pending = list(
                    (
                        await session.exec(
                            select(PersonImport.id)
                            .where(col(PersonImport.status).in_(PENDING))
                            .order_by(col(PersonImport.created_at))
                        )
                    ).all()
                )
            break
        except _UNREACHABLE as exc:
            log.warning("cannot look for pending imports yet (%s); retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30)
    for import_id in pending:
        log.info("resuming import %s", import_id)
        start(runtime, import_id)
    return pending


async def run(sessionmaker: Any, settings: ServiceSettings, import_id: uuid.UUID) -> None:
    """Import batch after batch until the job is done; wait out database outages."""
    failures = 0
    while True:
        try:
            finished = await _next_batch(sessionmaker, settings, import_id)
        except asyncio.CancelledError:
            raise
        except _UNREACHABLE as exc:
            # The job stays running: it goes on once the database is back (or after a restart).
            log.warning("import %s waits for the database (%s)", import_id, exc)
            await asyncio.sleep(min(0.5 * 2**failures, 30))
            failures = min(failures + 1, 10)
            continue
        except Exception as exc:
            failures += 1
            log.exception("import %s: batch failed (attempt %d)", import_id, failures)
            if failures >= MAX_ATTEMPTS:
                await _give_up(sessionmaker, import_id, f"{type(exc).__name__}: {exc}")
                return
            await asyncio.sleep(0.5 * 2**failures)
            continue
        failures = 0
        if finished:
            return


async def _give_up(sessionmaker: Any, import_id: uuid.UUID, reason: str) -> None:
    async with sessionmaker() as session, session.begin():
        job = await session.get(PersonImport, import_id, with_for_update=True)
        if job is not None and job.status in PENDING:
            job.status = "failed"
            job.error = f"The import stopped after row {job.processed_rows}: {reason}"[:2000]
            job.finished_at = utcnow()


async def _next_batch(sessionmaker: Any, settings: ServiceSettings, import_id: uuid.UUID) -> bool:
    """Import the next batch of rows; True once nothing is left to do."""
    async with sessionmaker() as session, session.begin():
        job = await session.get(PersonImport, import_id, with_for_update=True)
        if job is None or job.status not in PENDING:
            return True
        if job.status == "queued":
            job.status = "running"
            job.started_at = utcnow()
        stored = (
            await session.exec(
                select(PersonImportRow)
                .where(
                    PersonImportRow.import_id == import_id,
                    PersonImportRow.row_number > job.processed_rows,
                )
                .order_by(col(PersonImportRow.row_number))
                .limit(BATCH_SIZE)
            )
        ).all()
        if stored:
            rows = [read_row(row, job.format) for row in stored]
            outcome = await import_batch(
                session=session, settings=settings, organization_id=job.organization_id, rows=rows
            )
            _count(job, outcome)
            job.processed_rows = stored[-1].row_number
            await _record(session, import_id, outcome.failed, done_through=job.processed_rows)
        if not stored or job.processed_rows >= job.total_rows:
            job.status = "completed"
            job.finished_at = utcnow()
        return job.status == "completed"


def _count(job: PersonImport, outcome: BatchOutcome) -> None:
    job.created += outcome.created
    job.updated += outcome.updated
    job.unchanged += outcome.unchanged
    job.enrollments_created += outcome.enrollments_created
    job.failed_rows += len(outcome.failed)


async def _record(
    session: AsyncSession, import_id: uuid.UUID, failed: list[ImportRow], *, done_through: int
) -> None:
    """Keep why each bad row failed, and drop the imported rows (they hold personal data)."""
    connection = await session.connection()
    if failed:
        await connection.execute(
            PersonImportError.__table__.insert(),
            [
                {
                    "import_id": import_id,
                    "row_number": row.number,
                    "line": row.line,
                    "external_id": row.external_id,
                    "errors": row.errors,
                }
                for row in failed
            ],
        )
    await connection.execute(
        sa.delete(PersonImportRow).where(
            col(PersonImportRow.import_id) == import_id,
            col(PersonImportRow.row_number) <= done_through,
        )
    )


# --- one batch ----------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    enrollments_created: int = 0
    failed: list[ImportRow] = field(default_factory=list)

    def add(self, row: ImportRow, result: str) -> None:
        if result == "failed":
            self.failed.append(row)
        else:
            setattr(self, result, getattr(self, result) + 1)


async def import_batch(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    rows: list[ImportRow],
) -> BatchOutcome:
    """Upsert the rows' people by external id (and enroll them), in file order.

    Runs of rows without an enrollment are written together, a few statements per run; a row
    with an enrollment is written on its own so that its person and its enrollment succeed or
    fail together.
    """
    outcome = BatchOutcome()
    readable = []
    for row in rows:
        if row.errors:
            outcome.add(row, "failed")
        else:
            readable.append(row)
    known = await _people(session, organization_id, {row.external_id for row in readable})
    run: list[ImportRow] = []
    in_run: set[str | None] = set()
    for row in [*readable, None]:
        together = row is not None and not row.enrollment
        # A person appears once per run: a second row for them sees what the first wrote.
        if together and row.external_id not in in_run:
            run.append(row)
            in_run.add(row.external_id)
            continue
        if run:
            await _write_together(session, settings, organization_id, run, known, outcome)
            run, in_run = [], set()
        if together:
            run.append(row)
            in_run.add(row.external_id)
        elif row is not None:
            await _write_one(session, settings, organization_id, row, known, outcome)
    outcome.failed.sort(key=lambda row: row.number)
    return outcome


async def _people(
    session: AsyncSession, organization_id: uuid.UUID, external_ids: set[Any]
) -> dict[str, Person | None]:
    """The people with these external ids (locked for the batch); None where there is none."""
    external_ids.discard(None)
    if not external_ids:
        return {}
    found = (
        await session.exec(
            select(Person)
            .where(
                Person.organization_id == organization_id,
                col(Person.external_id).in_(external_ids),
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    known: dict[str, Person | None] = dict.fromkeys(external_ids)
    known.update({person.external_id: person for person in found if person.external_id})
    return known


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {
            "field": ".".join(str(part) for part in e["loc"]) or "row",
            "message": str(e["msg"]).removeprefix("Value error, "),
        }
        for e in exc.errors()
    ]


def _problem_errors(problem: Problem, default_field: str) -> list[dict[str, str]]:
    errors = problem.extensions.get("errors") or []
    return [
        {"field": e["field"].removeprefix("body."), "message": e["message"]} for e in errors
    ] or [{"field": default_field, "message": problem.detail}]


def _changes(person: Person, data: PersonUpdate) -> dict[str, Any]:
    """What the row would change on the person (JSON values), nothing when it matches."""
    current = PersonPrivate.model_validate(person).model_dump(mode="json")
    given = data.model_dump(mode="json", exclude_unset=True)
    return {name: value for name, value in given.items() if current.get(name) != value}


def _validate(row: ImportRow, existing: Person | None) -> PersonCreate | PersonUpdate:
    model = PersonCreate if existing is None else PersonUpdate
    return model.model_validate(row.person)


def _enrollment(
    row: ImportRow, errors: list[dict[str, str]]
) -> tuple[uuid.UUID, EnrollmentCreate] | None:
    """The row's enrollment, checked before anything is written (the person comes later)."""
    if not row.enrollment:
        return None
    fields = dict(row.enrollment)
    program_id = fields.pop("program_id", None)
    found = len(errors)
    try:
        program = uuid.UUID(str(program_id))
    except ValueError:
        errors.append({"field": "program_id", "message": "required, a program id (UUID)"})
    try:
        data = EnrollmentCreate.model_validate({**fields, "person_id": uuid.UUID(int=0)})
    except ValidationError as exc:
        errors += _field_errors(exc)
    return None if len(errors) > found else (program, data)


async def _write_one(
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    row: ImportRow,
    known: dict[str, Person | None],
    outcome: BatchOutcome,
) -> None:
    """Upsert one row through the people and programs services, in its own savepoint."""
    if row.external_id not in known:
        known.update(await _people(session, organization_id, {row.external_id}))
    person = known[row.external_id]
    errors: list[dict[str, str]] = []
    try:
        data = _validate(row, person)
    except ValidationError as exc:
        errors += _field_errors(exc)
    enrollment = _enrollment(row, errors)
    if errors:
        row.errors = errors
        outcome.add(row, "failed")
        return
    result, enrolled, stage = "unchanged", False, "row"
    try:
        async with session.begin_nested():
            if person is None:
                person = await people.register(
                    session=session,
                    settings=settings,
                    organization_id=organization_id,
                    data=data,
                )
                result = "created"
            elif changes := _changes(person, data):
                person = await people.update(
                    session=session,
                    settings=settings,
                    organization_id=organization_id,
                    person_id=person.id,
                    data=PersonUpdate.model_validate(changes),
                    # The import is the newest word on the person: no client version to match.
                    if_match=etag(person.version),
                )
                result = "updated"
            if enrollment is not None:
                stage = "program_id"
                enrolled = await _enroll(session, settings, organization_id, person.id, *enrollment)
    except (Problem, DataError) as exc:
        # The savepoint is gone and with it whatever this row changed: read the person again.
        known.pop(row.external_id, None)
        row.errors = (
            _problem_errors(exc, stage)
            if isinstance(exc, Problem)
            else [{"field": stage, "message": f"refused by the database: {exc.orig}"}]
        )
        outcome.add(row, "failed")
        return
    known[row.external_id] = person
    if enrolled:
        outcome.enrollments_created += 1
        # A new enrollment changes the row's person even when their profile stayed the same.
        result = "updated" if result == "unchanged" else result
    outcome.add(row, result)


async def _enroll(
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    program_id: uuid.UUID,
    data: EnrollmentCreate,
) -> bool:
    """Enroll the person; False when they already are (a re-import changes nothing)."""
    try:
        await programs.enroll(
            session=session,
            settings=settings,
            organization_id=organization_id,
            program_id=program_id,
            data=data.model_copy(update={"person_id": person_id}),
        )
    except Problem as problem:
        if problem.slug == "duplicate-enrollment":
            return False
        raise
    return True


async def _write_together(
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    rows: list[ImportRow],
    known: dict[str, Person | None],
    outcome: BatchOutcome,
) -> None:
    """Upsert a run of rows (one per person) with a few statements for the whole run.

    These are the steps of `people.register` and `people.update`, with their checks (email
    taken, manager unknown) made in memory against what one query read for the run: new people
    go in with one INSERT, changed ones with one flush, every event with one outbox write. A
    conflict that query could not see (a concurrent writer) sends the run through `_write_one`.
    """
    missing = {row.external_id for row in rows} - known.keys()
    if missing:
        known.update(await _people(session, organization_id, missing))
    owners, managers = await _emails_and_managers(session, organization_id, rows)
    # A concurrent import may have committed some of these people after `known` was read and
    # before their emails were: their rows would fail as "email already registered". Read the
    # unknown ones again; whatever the email query saw is visible now.
    unseen = {row.external_id for row in rows if known.get(row.external_id) is None}
    if owners and unseen:
        known.update(await _people(session, organization_id, unseen))
    staged = BatchOutcome()
    created: list[dict[str, Any]] = []
    events: list[contracts.PersonRegistered | contracts.PersonUpdated] = []
    try:
        async with session.begin_nested():
            for row in rows:
                result = _stage(organization_id, row, known, owners, managers, created, events)
                staged.add(row, result)
            await session.flush()
            if created:
                connection = await session.connection()
                await connection.execute(Person.__table__.insert(), created)
            await emit_many(
                session,
                events,
                tenant=organization_id,
                source=settings.source,
                channel=notify_channel(settings.db_schema),
            )
    except (IntegrityError, DataError) as exc:
        # A concurrent writer took an email or external id (or Postgres refused a value): one
        # row at a time, so that only the rows at fault fail.
        log.info("import batch refused (%s); row by row", exc.orig)
        known.update(await _people(session, organization_id, {row.external_id for row in rows}))
        for row in rows:
            row.errors = []
            await _write_one(session, settings, organization_id, row, known, outcome)
        return
    for values in created:
        # Not loaded in this session: a later row for the person reads them afresh.
        known.pop(values["external_id"], None)
    outcome.created += staged.created
    outcome.updated += staged.updated
    outcome.unchanged += staged.unchanged
    outcome.failed += staged.failed


async def _emails_and_managers(
    session: AsyncSession, organization_id: uuid.UUID, rows: list[ImportRow]
) -> tuple[dict[str, uuid.UUID], set[uuid.UUID]]:
    """Who already has each email the rows give, and which managers they name exist."""
    emails = {
        email.strip().lower() for row in rows if isinstance(email := row.person.get("email"), str)
    }
    manager_ids = set()
    for row in rows:
        try:
            manager_ids.add(uuid.UUID(str(row.person["manager_id"])))
        except (KeyError, ValueError):
            continue
    if not emails and not manager_ids:
        return {}, set()
    found = (
        await session.exec(
            select(Person.id, Person.email).where(
                Person.organization_id == organization_id,
                sa.or_(col(Person.email).in_(emails), col(Person.id).in_(manager_ids)),
            )
        )
    ).all()
    owners = {email: person_id for person_id, email in found if email in emails}
    return owners, {person_id for person_id, _ in found if person_id in manager_ids}


def _stage(
    organization_id: uuid.UUID,
    row: ImportRow,
    known: dict[str, Person | None],
    owners: dict[str, uuid.UUID],
    managers: set[uuid.UUID],
    created: list[dict[str, Any]],
    events: list[contracts.PersonRegistered | contracts.PersonUpdated],
) -> str:
    """One row's change, without I/O: what `people.register` or `people.update` would do."""
    person = known.get(row.external_id)
    try:
        data = _validate(row, person)
    except ValidationError as exc:
        row.errors = _field_errors(exc)
        return "failed"
    if person is None:
        fields = data.model_dump(mode="json")
    else:
        fields = _changes(person, data)
        if not fields:
            return "unchanged"
    if "manager_id" in fields:
        fields["manager_id"] = data.manager_id
    row.errors = _conflicts(fields, person, owners, managers)
    if row.errors:
        return "failed"
    if person is None:
        new = _new_person(organization_id, fields)
        created.append(vars(new))
        owners[new.email] = new.id
        events.append(
            contracts.PersonRegistered(**people.snapshot(new), registered_at=new.created_at)
        )
        return "created"
    if "email" in fields and owners.get(person.email) == person.id:
        del owners[person.email]
    people._apply(person, fields)
    person.version += 1
    person.updated_at = utcnow()
    owners[person.email] = person.id
    events.append(contracts.PersonUpdated(**people.snapshot(person), updated_at=person.updated_at))
    return "updated"


def _new_person(organization_id: uuid.UUID, fields: dict[str, Any]) -> Any:
    """Every column of a new person, as `people.register` sets them.

    A plain namespace rather than a `Person`: building the ORM object (pydantic calls each
    default factory's signature, SQLAlchemy instruments each attribute) took most of the time
    of a large import, and the run inserts its new people with one statement anyway.
    """
    now = utcnow()
    person = SimpleNamespace(
        id=uuid.uuid4(),
        organization_id=organization_id,
        version=1,
        created_at=now,
        updated_at=now,
        **fields,
    )
    people._apply(person, {})
    return person


def _conflicts(
    fields: dict[str, Any],
    person: Person | None,
    owners: dict[str, uuid.UUID],
    managers: set[uuid.UUID],
) -> list[dict[str, str]]:
    """The API's 409 and 422 answers for these fields, as row errors."""
    problems = []
    owner = owners.get(fields.get("email", ""))
    if owner is not None and (person is None or owner != person.id):
        problems.append({"field": "email", "message": "already registered"})
    manager = fields.get("manager_id")
    if manager is not None and person is not None and manager == person.id:
        problems.append({"field": "manager_id", "message": "cannot be the person"})
    elif manager is not None and manager not in managers:
        problems.append({"field": "manager_id", "message": "no such person"})
    return problems
