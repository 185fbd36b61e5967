"""Bulk imports of people and enrollments, against the real Postgres and Kafka."""

import csv
import io
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from trellis_infra.pytest_plugin import bearer, eventually, running_app, settings_for, token
from trellis_profiles.imports import runner, service
from trellis_profiles.main import create_app
from trellis_profiles.settings import ProfilesSettings
from trellis_shared.events import from_kafka
from trellis_shared.kafka import read_topic

HEADER = [
    "external_id",
    "full_name",
    "email",
    "time_zone",
    "languages",
    "skills",
    "availability",
    "headline",
]


@pytest.fixture
async def app(stack):
    app = create_app(settings_for(stack, "profiles", ProfilesSettings))
    async with running_app(app) as client:
        app.state.client = client
        yield app


@pytest.fixture
def profiles(app):
    return app.state.client


@pytest.fixture
async def offline(stack, database):
    """Profiles with no broker: the events of a large import stay in its outbox, then go.

    Thousands of person events on the shared topic would hold up every consumer that the later
    suites start (each reads the topic from its beginning).
    """
    async with database.connect() as conn:
        started = await conn.scalar(sa.text("SELECT clock_timestamp()"))
    app = create_app(
        settings_for(stack, "profiles", ProfilesSettings, kafka_bootstrap="127.0.0.1:1")
    )
    try:
        async with running_app(app) as client:
            yield client
    finally:
        async with database.begin() as conn:
            await conn.execute(
                sa.text(
                    "DELETE FROM profiles.outbox_message "
                    "WHERE published_at IS NULL AND created_at >= :started"
                ),
                {"started": started},
            )


@pytest.fixture
async def database(stack):
    engine = create_async_engine(stack.service_database_url("profiles"))
    yield engine
    await engine.dispose()


def _csv(rows, header=HEADER):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _row(n, **overrides):
    row = {
        "external_id": f"E{n:05d}",
        "full_name": f"Person {n}",
        "email": f"person{n}@example.org",
        "time_zone": "Europe/Paris",
        "languages": "fr;en",
        "skills": "python:expert;leadership:intermediate",
        "availability": "0 09:00-12:00;2 14:00-17:00",
        "headline": f"Engineer {n}",
    }
    row.update(overrides)
    return row


async def _upload(client, org, body, content_type="text/csv"):
    response = await client.post(
        "/profiles/imports",
        content=body,
        headers={**bearer(org=org, roles=["org_admin"]), "content-type": content_type},
    )
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/profiles/imports/{response.json()['id']}"
    return response.json()


async def _finished(client, org, job, timeout=60.0):
    async def probe():
        response = await client.get(
            f"/profiles/imports/{job['id']}", headers=bearer(org=org, roles=["org_admin"])
        )
        assert response.status_code == 200, response.text
        return response.json()

    return await eventually(
        probe, until=lambda j: j["status"] in ("completed", "failed"), timeout=timeout
    )


async def _import(client, org, body, content_type="text/csv", timeout=60.0):
    return await _finished(client, org, await _upload(client, org, body, content_type), timeout)


async def _row_errors(client, org, job):
    found, cursor = [], None
    while True:
        response = await client.get(
            job["errors_url"],
            params={"limit": 1000, **({"cursor": cursor} if cursor else {})},
            headers=bearer(org=org, roles=["org_admin"]),
        )
        assert response.status_code == 200, response.text
        found += response.json()["data"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return found


async def _people(client, org):
    found, cursor = [], None
    while True:
        response = await client.get(
            "/profiles/people",
            params={"limit": 200, **({"cursor": cursor} if cursor else {})},
            headers=bearer(org=org, roles=["org_admin"]),
        )
        assert response.status_code == 200, response.text
        found += response.json()["data"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return {p["external_id"]: p for p in found}


async def _events(stack, person_id):
    records = await read_topic(
        stack.kafka_bootstrap, "trellis.profiles.person", key=str(person_id).encode()
    )
    return [from_kafka(r.headers, r.key, r.value) for r in records]


async def test_a_csv_import_registers_people_and_announces_them(profiles, stack):
    org = uuid.uuid4()
    job = await _import(profiles, org, _csv([_row(1), _row(2), _row(3, skills="sql")]))
    assert job["status"] == "completed"
    assert (job["total_rows"], job["processed_rows"], job["created"]) == (3, 3, 3)
    assert (job["updated"], job["unchanged"], job["failed_rows"]) == (0, 0, 0)
    assert job["finished_at"] is not None
    assert job["errors_url"] == f"/profiles/imports/{job['id']}/errors"

    people = await _people(profiles, org)
    assert set(people) == {"E00001", "E00002", "E00003"}
    ada = people["E00001"]
    assert ada["email"] == "person1@example.org"
    assert ada["languages"] == ["fr", "en"]
    assert ada["skills"] == [
        {"name": "python", "level": "expert"},
        {"name": "leadership", "level": "intermediate"},
    ]
    assert ada["availability"] == [
        {"weekday": 0, "start": "09:00", "end": "12:00"},
        {"weekday": 2, "start": "14:00", "end": "17:00"},
    ]
    assert people["E00003"]["skills"] == [{"name": "sql", "level": "intermediate"}]

    events = await eventually(lambda: _events(stack, ada["id"]))
    assert [e.type for e in events] == ["trellis.profiles.person.registered.v1"]
    assert events[0].tenant == org
    assert [s.name for s in events[0].data.skills] == ["python", "leadership"]


async def test_a_json_lines_import_registers_people(profiles):
    org = uuid.uuid4()
    lines = [
        {
            "external_id": 1001,
            "full_name": "Ada Lovelace",
            "email": "ada@example.org",
            "time_zone": "Europe/London",
            "skills": [{"name": "mathematics", "level": "expert"}],
            "availability": [{"weekday": 1, "start": "10:00", "end": "11:30"}],
            "seniority_level": 7,
            "headline": None,
        },
        {"external_id": "hr-2", "full_name": "Alan Turing", "email": "alan@example.org"},
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode() + b"\n\n"
    job = await _import(profiles, org, body, "application/x-ndjson")
    assert (job["format"], job["created"], job["failed_rows"]) == ("ndjson", 2, 0)
    people = await _people(profiles, org)
    assert people["1001"]["seniority_level"] == 7
    assert people["1001"]["availability"] == [{"weekday": 1, "start": "10:00", "end": "11:30"}]
    assert people["hr-2"]["time_zone"] == "UTC"


async def test_a_reimport_updates_only_the_changed_row(profiles, stack):
    org = uuid.uuid4()
    rows = [_row(n) for n in range(1, 6)]
    first = await _import(profiles, org, _csv(rows))
    assert first["created"] == 5
    before = await _people(profiles, org)

    rows[2] = _row(3, headline="Principal engineer", skills="python:expert;rust:beginner")
    again = await _import(profiles, org, _csv(rows))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 1, 4)
    assert again["failed_rows"] == 0

    after = await _people(profiles, org)
    changed = after["E00003"]
    assert changed["id"] == before["E00003"]["id"]
    assert changed["headline"] == "Principal engineer"
    assert changed["version"] == 2
    assert {p["version"] for k, p in after.items() if k != "E00003"} == {1}
    events = await eventually(lambda: _events(stack, changed["id"]), until=lambda e: len(e) == 2)
    assert [e.type for e in events] == [
        "trellis.profiles.person.registered.v1",
        "trellis.profiles.person.updated.v1",
    ]
    assert events[1].data.headline == "Principal engineer"
    assert events[1].data.version == 2


async def test_two_imports_of_the_same_people_at_once_neither_duplicate_nor_fail(offline):
    org = uuid.uuid4()
    body = _csv([_row(n) for n in range(1, 1501)])
    first, second = [await _upload(offline, org, body) for _ in range(2)]
    first, second = await _finished(offline, org, first), await _finished(offline, org, second)
    assert (first["failed_rows"], second["failed_rows"]) == (0, 0)
    assert first["created"] + second["created"] == 1500
    assert first["created"] + first["unchanged"] == second["created"] + second["unchanged"] == 1500
    assert len(await _people(offline, org)) == 1500


def _bad(kind, n):
    """A row that must be refused, and the field the report must name."""
    if kind == "email":
        return _row(n, email=f"person{n}-at-example.org"), "email"
    if kind == "time_zone":
        return _row(n, time_zone="Mars/Olympus_Mons"), "time_zone"
    if kind == "language":
        return _row(n, languages="fr;english please"), "languages"
    if kind == "duplicate_email":
        # The same email as the good row just before it.
        return _row(n, email=f"person{n - 1}@example.org"), "email"
    if kind == "external_id":
        return _row(n, external_id=""), "external_id"
    return _row(n, availability="0 12:00-09:00"), "availability"


KINDS = ("email", "time_zone", "language", "duplicate_email", "external_id", "availability")


async def test_ten_thousand_people_with_one_percent_bad_rows(offline, database):
    org = uuid.uuid4()
    rows, expected = [], {}
    for n in range(1, 10_001):
        if n % 100 == 50:
            kind = KINDS[(n // 100) % len(KINDS)]
            row, field = _bad(kind, n)
            expected[n] = (row["external_id"] or None, field)
            rows.append(row)
        else:
            rows.append(_row(n))
    assert len(expected) == 100

    started = time.perf_counter()
    job = await _import(offline, org, _csv(rows), timeout=120)
    elapsed = time.perf_counter() - started
    print(f"\nimported 10,000 rows in {elapsed:.1f} s: {9_900 / elapsed:,.0f} people/s")

    assert job["status"] == "completed", job
    assert (job["total_rows"], job["processed_rows"]) == (10_000, 10_000)
    assert (job["created"], job["failed_rows"]) == (9_900, 100)
    report = await _row_errors(offline, org, job)
    assert [r["row"] for r in report] == sorted(expected)
    for entry in report:
        external_id, field = expected[entry["row"]]
        assert entry["external_id"] == external_id
        assert entry["line"] == entry["row"] + 1
        assert field in [e["field"].split(".")[0] for e in entry["errors"]], entry

    async with database.connect() as conn:
        count = await conn.scalar(
            sa.text("SELECT count(*) FROM profiles.person WHERE organization_id = :org"),
            {"org": org},
        )
        left = await conn.scalar(
            sa.text("SELECT count(*) FROM profiles.person_import_row WHERE import_id = :id"),
            {"id": uuid.UUID(job["id"])},
        )
    assert count == 9_900
    # The raw rows (personal data) are not kept once imported.
    assert left == 0


async def test_rows_with_enrollment_columns_enroll_people(profiles):
    org = uuid.uuid4()
    admin = bearer(org=org, roles=["org_admin"])
    program = await profiles.post("/profiles/programs", json={"name": "Pathways"}, headers=admin)
    assert program.status_code == 201, program.text
    program_id = program.json()["id"]
    header = [*HEADER, "program_id", "role", "capacity", "topics", "goals"]
    rows = [
        _row(1, program_id=program_id, role="mentor", capacity="2", topics="careers;python"),
        _row(
            2,
            program_id=program_id,
            role="mentee",
            goals="career:Lead a team within a year;skills:Learn Rust",
        ),
        _row(3),
        # A mentee has no capacity: the whole row is refused, the person too.
        _row(4, program_id=program_id, role="mentee", capacity="3"),
        _row(5, program_id=program_id, role="sponsor"),
        _row(6, program_id=str(uuid.uuid4()), role="mentee"),
        _row(7, email="nobody", program_id="not-a-program", role="mentor"),
    ]
    job = await _import(profiles, org, _csv(rows, header))
    assert (job["created"], job["enrollments_created"], job["failed_rows"]) == (3, 2, 4)
    report = {r["row"]: r["errors"] for r in await _row_errors(profiles, org, job)}
    assert [e["field"] for e in report[4]] == ["capacity"]
    assert [e["field"] for e in report[5]] == ["role"]
    assert [e["field"] for e in report[6]] == ["program_id"]
    assert "No program" in report[6][0]["message"]
    assert [e["field"] for e in report[7]] == ["email", "program_id"]
    people = await _people(profiles, org)
    assert set(people) == {"E00001", "E00002", "E00003"}

    enrollments = await profiles.get(f"/profiles/programs/{program_id}/enrollments", headers=admin)
    assert enrollments.status_code == 200, enrollments.text
    by_person = {e["person_id"]: e for e in enrollments.json()["data"]}
    mentor = by_person[people["E00001"]["id"]]
    assert (mentor["role"], mentor["capacity"], mentor["topics"]) == (
        "mentor",
        2,
        ["careers", "python"],
    )
    mentee = by_person[people["E00002"]["id"]]
    assert mentee["goals"] == [
        {"category": "career", "description": "Lead a team within a year"},
        {"category": "skills", "description": "Learn Rust"},
    ]

    # Again: already enrolled is not an error; only the changed profile is updated.
    rows[1] = {**rows[1], "headline": "Aspiring team lead"}
    again = await _import(profiles, org, _csv(rows[:3], header))
    assert (again["updated"], again["unchanged"], again["failed_rows"]) == (1, 2, 0)
    assert again["enrollments_created"] == 0
    mentee = (await _people(profiles, org))["E00002"]
    assert (mentee["headline"], mentee["version"]) == ("Aspiring team lead", 2)


async def test_a_duplicate_email_in_an_enrollment_row_fails_that_row_alone(profiles):
    org = uuid.uuid4()
    admin = bearer(org=org, roles=["org_admin"])
    program = await profiles.post("/profiles/programs", json={"name": "Pathways"}, headers=admin)
    program_id = program.json()["id"]
    header = [*HEADER, "program_id", "role"]
    rows = [
        _row(1, program_id=program_id, role="mentee"),
        _row(2, email="person1@example.org", program_id=program_id, role="mentee"),
        _row(3, program_id=program_id, role="mentor"),
    ]
    job = await _import(profiles, org, _csv(rows, header))
    assert (job["created"], job["enrollments_created"], job["failed_rows"]) == (2, 2, 1)
    report = await _row_errors(profiles, org, job)
    assert [(r["row"], r["errors"][0]["field"]) for r in report] == [(2, "email")]


async def test_unreadable_rows_are_reported_not_skipped(profiles):
    org = uuid.uuid4()
    body = b'{"external_id": "a", "full_name": "A", "email": "a@example.org"}\n'
    body += b"not json\n[1, 2]\n"
    body += b'{"external_id": "b", "full_name": "B", "email": "b@example.org", "shoe_size": 44}\n'
    job = await _import(profiles, org, body, "application/x-ndjson")
    assert (job["total_rows"], job["created"], job["failed_rows"]) == (4, 1, 3)
    report = await _row_errors(profiles, org, job)
    assert [(r["row"], r["line"], r["errors"][0]["field"]) for r in report] == [
        (2, 2, "row"),
        (3, 3, "row"),
        (4, 4, "shoe_size"),
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        (b"external_id,full_name\n1,A\n", "application/json", 415, None),
        (b"full_name,email\nA,a@example.org\n", "text/csv", 422, "body.external_id"),
        (b"external_id,shoe_size\n1,44\n", "text/csv", 422, "body.shoe_size"),
        (b"external_id,full_name\n", "text/csv", 422, "body"),
        (b"", "application/x-ndjson", 422, "body"),
        (b"\xff\xfe\x00", "text/csv", 422, "body"),
    ],
)
async def test_an_unusable_file_is_refused_as_a_whole(profiles, body, content_type, status, field):
    response = await profiles.post(
        "/profiles/imports",
        content=body,
        headers={
            **bearer(org=uuid.uuid4(), roles=["org_admin"]),
            "content-type": content_type,
        },
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field:
        assert field in [e["field"] for e in response.json()["errors"]]


async def test_a_file_over_the_limit_is_a_413(profiles, monkeypatch):
    monkeypatch.setattr(service, "MAX_BODY_BYTES", 1000)
    response = await profiles.post(
        "/profiles/imports",
        content=_csv([_row(n) for n in range(20)]),
        headers={**bearer(org=uuid.uuid4(), roles=["org_admin"]), "content-type": "text/csv"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_another_organization_cannot_see_an_import(profiles):
    org = uuid.uuid4()
    job = await _import(profiles, org, _csv([_row(1, email="bad")]))
    other = bearer(org=uuid.uuid4(), roles=["org_admin"])
    for url in (f"/profiles/imports/{job['id']}", job["errors_url"]):
        elsewhere = await profiles.get(url, headers=other)
        missing = await profiles.get(
            url.replace(job["id"], str(uuid.uuid4())), headers=bearer(org=org, roles=["org_admin"])
        )
        assert elsewhere.status_code == missing.status_code == 404
        assert elsewhere.json()["type"] == missing.json()["type"]
    as_member = await profiles.get(job["errors_url"], headers=bearer(org=org, roles=["member"]))
    assert as_member.status_code == 403
    upload = await profiles.post(
        "/profiles/imports",
        content=_csv([_row(1)]),
        headers={**bearer(org=org, roles=["member"]), "content-type": "text/csv"},
    )
    assert upload.status_code == 403


async def test_imports_left_pending_by_a_stopped_process_resume(app, profiles):
    org = uuid.uuid4()
    sessionmaker = app.state.runtime.sessionmaker
    async with sessionmaker() as session, session.begin():
        queued = await service.create(
            session=session,
            organization_id=org,
            requested_by="test",
            file_format="csv",
            body=_csv([_row(1), _row(2)]),
        )
        halfway = await service.create(
            session=session,
            organization_id=org,
            requested_by="test",
            file_format="csv",
            body=_csv([_row(3), _row(4), _row(5)]),
        )
        # As a process stopped after the first batch of `halfway` committed leaves it; in the
        # same transaction, so the app's own sweep never sees `halfway` in any other state.
        await session.flush()
        await session.execute(
            sa.text(
                "UPDATE profiles.person_import SET status = 'running', processed_rows = 2, "
                "created = 2 WHERE id = :id"
            ),
            {"id": halfway.id},
        )
        await session.execute(
            sa.text(
                "DELETE FROM profiles.person_import_row WHERE import_id = :id AND row_number <= 2"
            ),
            {"id": halfway.id},
        )

    # The app's own start-up sweep may be the one that finds them (it runs once topics are
    # provisioned, which can be after this point on a busy machine); either way, both resume.
    await runner.resume_pending_imports(app.state.runtime)
    first = await _finished(profiles, org, {"id": str(queued.id)})
    second = await _finished(profiles, org, {"id": str(halfway.id)})
    assert (first["status"], first["created"]) == ("completed", 2)
    assert (second["status"], second["processed_rows"], second["created"]) == ("completed", 3, 3)
    # Only the row not yet committed was imported.
    assert set(await _people(profiles, org)) == {"E00001", "E00002", "E00005"}


def test_the_cli_uploads_follows_the_job_and_lists_failed_rows(stack, tmp_path):
    stack.start_service("profiles")
    stack.gateway.start()
    try:
        org = uuid.uuid4()
        # COLUMNS: rich wraps its table at 80 columns when the output is not a terminal.
        env = {**os.environ, "TRELLIS_TOKEN": token(org=org, roles=["org_admin"]), "COLUMNS": "200"}
        command = [sys.executable, "-m", "trellis_shared.cli", "import", "people"]

        # Through the gateway, whose body limit is 1 MB on every other route.
        good = tmp_path / "people.csv"
        good.write_bytes(_csv([_row(n, bio="b" * 5000) for n in range(1, 301)], [*HEADER, "bio"]))
        assert good.stat().st_size > 1024 * 1024
        done = subprocess.run(
            [*command, str(good), "--url", stack.gateway_url],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Import completed: 300/300 rows, 300 created" in done.stdout

        lines = tmp_path / "people.jsonl"
        lines.write_text(
            json.dumps({"external_id": "E00001", "full_name": "Person 1", "email": "x"})
            + "\n"
            + json.dumps({"external_id": "E00999", "full_name": "New", "email": "n@example.org"})
            + "\n"
        )
        failed = subprocess.run(
            [*command, str(lines), "--url", stack.service_url("profiles")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "1 created, 0 updated, 0 unchanged, 1 failed" in failed.stdout
        assert "not an email address" in failed.stdout

        refused = subprocess.run(
            [*command, str(lines), "--url", stack.service_url("profiles")],
            env={**env, "TRELLIS_TOKEN": token(org=org, roles=["member"])},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "403" in refused.stdout
    finally:
        stack.gateway.stop()
        stack.stop_service("profiles")
