"""Matching's integration fixtures: profiles and matching in-process on the real Postgres and Kafka.

People, programs and enrollments are made the way users make them, through the profiles API;
matching learns about them only from profiles' events. `world.synced(...)` waits until matching's
read model holds what profiles announced, so a test starts from a state a user could have reached.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from trellis_infra.pytest_plugin import (
    bearer,
    caught_up,
    eventually,
    running_app,
    settings_for,
)
from trellis_matching.main import create_app as create_matching
from trellis_matching.settings import MatchingSettings
from trellis_profiles.main import create_app as create_profiles
from trellis_profiles.settings import ProfilesSettings
from trellis_shared.events import Event, from_kafka
from trellis_shared.kafka import read_topic

MATCH_TOPIC = "trellis.matching.match"
RUN_TOPIC = "trellis.matching.matching_run"

# A small taxonomy with skewed popularity: most people know the first few skills.
SKILLS = (
    "Python",
    "Product Management",
    "Data Analysis",
    "Leadership",
    "Kubernetes",
    "Public Speaking",
    "Machine Learning",
    "UX Research",
    "Negotiation",
    "Go",
)
SKILL_WEIGHTS = (10, 8, 7, 6, 4, 4, 3, 2, 2, 1)
LEVELS = ("intermediate", "advanced", "expert")
# (IANA zone, the languages people there speak besides English)
PLACES = (
    ("Europe/London", ()),
    ("Europe/Madrid", ("es",)),
    ("America/New_York", ()),
    ("America/Sao_Paulo", ("pt",)),
    ("Europe/Berlin", ("de",)),
)
INDUSTRIES = ("software", "finance", "healthcare", "education")
FUNCTIONS = ("engineering", "product", "design", "data")
MENTORING_STYLES = ("coaching", "directive", "sponsoring", "sounding_board", "mixed")
LEARNING_STYLES = ("visual", "auditory", "reading", "hands_on", "mixed")
WEEKDAY_EVENINGS = [{"weekday": d, "start": "17:00", "end": "19:00"} for d in range(5)]


@dataclass
class Member:
    """A person enrolled in a program, as profiles answered when they were created."""

    person: dict[str, Any]
    enrollment: dict[str, Any]

    @property
    def id(self) -> str:
        return self.person["id"]

    @property
    def name(self) -> str:
        return self.person["full_name"]


@dataclass
class Cohort:
    org: uuid.UUID
    program: dict[str, Any]
    mentors: list[Member] = field(default_factory=list)
    mentees: list[Member] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.program["id"]

    @property
    def admin(self) -> dict[str, str]:
        return bearer(org=self.org, roles=["org_admin"])

    def as_(self, who: Member | str) -> dict[str, str]:
        """The headers of a member acting as themselves."""
        person_id = who.id if isinstance(who, Member) else who
        return bearer(org=self.org, roles=["member"], sub=person_id)

    @property
    def members(self) -> list[Member]:
        return self.mentors + self.mentees


def mentor_profile(rng: random.Random, **overrides: Any) -> dict[str, Any]:
    zone, languages = rng.choice(PLACES)
    skills = rng.sample(SKILLS, k=3, counts=SKILL_WEIGHTS)
    profile = {
        "headline": "Helps people grow",
        "time_zone": zone,
        "languages": ["en", *languages],
        "skills": [{"name": s, "level": rng.choice(LEVELS)} for s in dict.fromkeys(skills)],
        "seniority_level": rng.randint(6, 9),
        "industry": rng.choice(INDUSTRIES),
        "function": rng.choice(FUNCTIONS),
        "mentoring_style": rng.choice(MENTORING_STYLES),
        "communication": ["video", "chat"],
        "availability": rng.sample(WEEKDAY_EVENINGS, k=3),
    }
    return profile | overrides


def mentee_profile(rng: random.Random, **overrides: Any) -> dict[str, Any]:
    zone, languages = rng.choice(PLACES)
    profile = {
        "time_zone": zone,
        "languages": ["en", *languages],
        "skills": [{"name": rng.choice(SKILLS), "level": "beginner"}],
        "seniority_level": rng.randint(1, 4),
        "industry": rng.choice(INDUSTRIES),
        "function": rng.choice(FUNCTIONS),
        "learning_style": rng.choice(LEARNING_STYLES),
        "communication": ["video"],
        "availability": rng.sample(WEEKDAY_EVENINGS, k=2),
    }
    return profile | overrides


def mentee_goals(rng: random.Random) -> list[dict[str, str]]:
    wanted = list(dict.fromkeys(rng.sample(SKILLS, k=2, counts=SKILL_WEIGHTS)))
    return [{"category": "skills", "description": f"Get good at {s} this year"} for s in wanted]


class World:
    """Profiles and matching clients plus the helpers every matching test needs."""

    def __init__(
        self,
        stack: Any,
        profiles: httpx.AsyncClient,
        matching: httpx.AsyncClient,
        engine: AsyncEngine,
    ) -> None:
        self.stack = stack
        self.profiles = profiles
        self.matching = matching
        self.engine = engine
        self._names = 0
        self._rng = random.Random(20240607)

    # --- profiles, through its API --------------------------------------------------------------

    async def program(self, org: uuid.UUID, **overrides: Any) -> Cohort:
        body = {
            "name": "Engineering Mentoring",
            "matching": {"default_mentor_capacity": 2, "max_mentor_capacity": 10},
        } | overrides
        response = await self.profiles.post(
            "/profiles/programs", json=body, headers=bearer(org=org, roles=["org_admin"])
        )
        assert response.status_code == 201, response.text
        return Cohort(org=org, program=response.json())

    async def person(self, cohort: Cohort, **profile: Any) -> dict[str, Any]:
        self._names += 1
        body = {
            "full_name": profile.pop("full_name", f"Person {self._names}"),
            "email": f"p{self._names}.{uuid.uuid4().hex[:8]}@example.org",
        } | profile
        response = await self.profiles.post("/profiles/people", json=body, headers=cohort.admin)
        assert response.status_code == 201, response.text
        return response.json()

    async def enroll(
        self, cohort: Cohort, person: dict[str, Any], role: str, **fields: Any
    ) -> Member:
        response = await self.profiles.post(
            f"/profiles/programs/{cohort.id}/enrollments",
            json={"person_id": person["id"], "role": role, **fields},
            headers=cohort.admin,
        )
        assert response.status_code == 201, response.text
        member = Member(person, response.json())
        (cohort.mentors if role == "mentor" else cohort.mentees).append(member)
        return member

    async def mentor(
        self,
        cohort: Cohort,
        *,
        capacity: int | None = None,
        topics: Iterable[str] = (),
        seed: int | None = None,
        **profile: Any,
    ) -> Member:
        rng = self._rng if seed is None else random.Random(seed)
        person = await self.person(cohort, **mentor_profile(rng, **profile))
        fields: dict[str, Any] = {"topics": list(topics)}
        if capacity is not None:
            fields["capacity"] = capacity
        return await self.enroll(cohort, person, "mentor", **fields)

    async def mentee(
        self,
        cohort: Cohort,
        *,
        goals: list[dict[str, str]] | None = None,
        seed: int | None = None,
        **profile: Any,
    ) -> Member:
        rng = self._rng if seed is None else random.Random(seed)
        person = await self.person(cohort, **mentee_profile(rng, **profile))
        return await self.enroll(
            cohort, person, "mentee", goals=mentee_goals(rng) if goals is None else goals
        )

    async def cohort(
        self,
        *,
        mentors: int = 6,
        mentees: int = 12,
        capacities: Iterable[int] | None = None,
        seed: int = 7,
        matching: dict[str, Any] | None = None,
    ) -> Cohort:
        """A new organization's program with realistic mentors and mentees, synced to matching."""
        settings = {"default_mentor_capacity": 2, "max_mentor_capacity": 10} | (matching or {})
        cohort = await self.program(uuid.uuid4(), matching=settings)
        rng = random.Random(seed)
        caps = list(capacities) if capacities is not None else [rng.randint(1, 3)] * mentors
        for n in range(mentors):
            topics = rng.sample(SKILLS, k=1)
            await self.mentor(
                cohort,
                capacity=caps[n % len(caps)],
                topics=topics,
                seed=rng.random(),
                full_name=f"Mentor {n + 1}",
            )
        for n in range(mentees):
            await self.mentee(cohort, seed=rng.random(), full_name=f"Mentee {n + 1}")
        await self.synced(cohort)
        return cohort

    async def set_matching(self, cohort: Cohort, **matching: Any) -> dict[str, Any]:
        """PATCH the program's matching settings and wait until matching has them."""
        url = f"/profiles/programs/{cohort.id}"
        read = await self.profiles.get(url, headers=cohort.admin)
        response = await self.profiles.patch(
            url,
            json={"matching": matching},
            headers=cohort.admin | {"If-Match": read.headers["etag"]},
        )
        assert response.status_code == 200, response.text
        cohort.program = response.json()
        version = cohort.program["version"]
        await eventually(
            lambda: self.rows("SELECT version FROM program_view WHERE id = :id", id=cohort.id),
            until=lambda rows: bool(rows) and rows[0]["version"] >= version,
        )
        return cohort.program

    async def set_capacity(self, cohort: Cohort, mentor: Member, capacity: int) -> None:
        """PATCH the mentor's enrollment capacity and wait until matching has it."""
        url = f"/profiles/enrollments/{mentor.enrollment['id']}"
        read = await self.profiles.get(url, headers=cohort.admin)
        response = await self.profiles.patch(
            url,
            json={"capacity": capacity},
            headers=cohort.admin | {"If-Match": read.headers["etag"]},
        )
        assert response.status_code == 200, response.text
        mentor.enrollment = response.json()
        await eventually(
            lambda: self.rows(
                "SELECT capacity FROM enrollment_view WHERE id = :id", id=mentor.enrollment["id"]
            ),
            until=lambda rows: bool(rows) and rows[0]["capacity"] == capacity,
        )

    async def synced(self, cohort: Cohort, members: Iterable[Member] | None = None) -> None:
        """Wait until matching's read model holds the program, the people and their enrollments."""
        members = list(cohort.members if members is None else members)
        enrollments = [m.enrollment["id"] for m in members]
        people = [m.id for m in members]
        await eventually(
            lambda: self.rows("SELECT id FROM program_view WHERE id = :id", id=cohort.id),
            until=bool,
        )
        if not members:
            return
        await eventually(
            lambda: self.rows(
                "SELECT e.id FROM enrollment_view e JOIN person_view p ON p.id = e.person_id"
                " WHERE e.id = ANY(CAST(:enrollments AS uuid[]))"
                " AND p.id = ANY(CAST(:people AS uuid[]))",
                enrollments=enrollments,
                people=people,
            ),
            until=lambda rows: len(rows) == len(enrollments),
        )

    # --- matching, read from outside -------------------------------------------------------------

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(sa.text(sql), params)).mappings().all())

    async def events(self, topic: str, key: str) -> list[Event]:
        records = await read_topic(self.stack.kafka_bootstrap, topic, key=key.encode())
        return [from_kafka(r.headers, r.key, r.value) for r in records]

    async def proposals(self, cohort: Cohort, **params: Any) -> list[dict[str, Any]]:
        """Every proposal of the program an org admin sees (all pages)."""
        found: list[dict[str, Any]] = []
        query: dict[str, Any] = {"program": cohort.id, "limit": 200, **params}
        while True:
            response = await self.matching.get(
                "/matching/proposals", params=query, headers=cohort.admin
            )
            assert response.status_code == 200, response.text
            page = response.json()
            found += page["data"]
            if not page.get("next_cursor"):
                return found
            query["cursor"] = page["next_cursor"]


@pytest.fixture(scope="module")
async def services(stack) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Profiles and matching running in-process (relays and consumers included) for a module."""
    matching_app = create_matching(settings_for(stack, "matching", MatchingSettings))
    async with (
        running_app(create_profiles(settings_for(stack, "profiles", ProfilesSettings))) as profiles,
        running_app(matching_app) as matching,
    ):
        await caught_up(matching_app)
        yield profiles, matching


@pytest.fixture(scope="module")
async def world(stack, services) -> AsyncIterator[World]:
    engine = create_async_engine(stack.service_database_url("matching"))
    try:
        yield World(stack, *services, engine)
    finally:
        await engine.dispose()
