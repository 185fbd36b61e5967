"""An organization driven through the gateway the way its admin and members use it: programs,
people, enrollments, mentor requests, accepts and meetings, each write sent with an
Idempotency-Key and retried with the same key while the platform is unwell."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.reliability.faults.conftest import Actor, Retrier

MENTOR = {
    "languages": ["en"],
    "seniority_level": 7,
    "time_zone": "Europe/London",
    "skills": [{"name": "Kubernetes", "level": "expert"}],
}
MENTEE = {"languages": ["en"], "seniority_level": 2, "time_zone": "Europe/Lisbon"}
GOALS = [{"category": "skills", "description": "Learn Kubernetes"}]


def expect(response: httpx.Response, *statuses: int) -> dict:
    assert response.status_code in statuses, (response.status_code, response.text)
    return response.json() if response.content else {}


def response_lost(response: httpx.Response) -> bool:
    """The write was applied by an attempt that died before answering (see idempotency.py)."""
    return response.status_code == 409 and "idempotency-response-lost" in response.text


class Org:
    def __init__(self, retrier: Retrier) -> None:
        self.id = uuid.uuid4()
        self.admin = Actor.admin(self.id)
        self.retrier = retrier
        self._members: dict[str, Actor] = {}
        self.gave_up: list[str] = []  # writes that waited for other services' events in vain
        self.recovered = 0  # writes whose answer was lost, read back as the problem advises

    def member(self, person_id: str) -> Actor:
        """The person's own session (one token each, as their app would hold)."""
        if person_id not in self._members:
            self._members[person_id] = Actor.member(self.id, person_id)
        return self._members[person_id]

    async def program(self, name: str, **fields: Any) -> dict:
        body = {"name": name, "meeting_cadence_days": 7, **fields}
        response = await self.retrier.send("POST", "/profiles/programs", self.admin, json=body)
        return expect(response, 201)

    async def written(self, response: httpx.Response, status: int, read_back) -> dict:
        if not response_lost(response):
            return expect(response, status)
        self.recovered += 1
        found = await read_back()
        assert found is not None, f"applied, answer lost, and not found: {response.text}"
        return found

    async def person(self, name: str, **fields: Any) -> dict:
        name = f"{name} {uuid.uuid4().hex[:6]}"
        body = {"full_name": name, "email": f"{uuid.uuid4().hex[:12]}@example.org", **fields}
        response = await self.retrier.send("POST", "/profiles/people", self.admin, json=body)

        async def read_back() -> dict | None:
            found = await self.all_pages("/profiles/people", self.admin, q=name)
            return next((p for p in found if p["full_name"] == name), None)

        return await self.written(response, 201, read_back)

    async def enroll(self, program_id: str, person_id: str, role: str, **fields: Any) -> dict:
        response = await self.retrier.send(
            "POST",
            f"/profiles/programs/{program_id}/enrollments",
            self.admin,
            json={"person_id": person_id, "role": role, **fields},
        )

        async def read_back() -> dict | None:
            found = await self.all_pages(f"/profiles/people/{person_id}/enrollments", self.admin)
            return next((e for e in found if e["program_id"] == program_id), None)

        return await self.written(response, 201, read_back)

    async def request_mentor(
        self, program_id: str, mentee_id: str, mentor_id: str, *, timeout: float
    ) -> dict | None:
        """The mentee asks the mentor, once matching knows them both (its read model follows
        profiles' events); None when it did not within `timeout`."""
        mentee = self.member(mentee_id)

        async def read_back() -> dict | None:
            found = await self.all_pages("/matching/proposals", mentee, program=program_id)
            return next((p for p in found if p["mentor_id"] == mentor_id), None)

        return await self.once_known(
            "POST",
            f"/matching/programs/{program_id}/requests",
            mentee,
            json={"mentor": mentor_id},
            status=201,
            timeout=timeout,
            read_back=read_back,
        )

    async def accept(self, proposal_id: str, person_id: str) -> dict:
        response = await self.retrier.send(
            "POST", f"/matching/proposals/{proposal_id}/accept", self.member(person_id)
        )

        async def read_back() -> dict:
            url = f"/matching/proposals/{proposal_id}"
            return expect(await self.retrier.send("GET", url, self.member(person_id)), 200)

        return await self.written(response, 200, read_back)

    async def mentorship_of(self, match_id: str, mentee_id: str, *, timeout: float) -> dict | None:
        """The mentorship sessions started for the match, once it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = await self.retrier.send(
                "GET", "/sessions/mentorships", self.member(mentee_id)
            )
            if response.status_code == 200:
                for mentorship in response.json()["data"]:
                    if mentorship["match_id"] == match_id:
                        return mentorship
            await asyncio.sleep(2)
        self.gave_up.append(f"no mentorship started after {timeout:.0f}s")
        return None

    async def schedule(self, mentorship_id: str, mentee_id: str, *, days_ahead: int) -> dict:
        start = (datetime.now(UTC) + timedelta(days=days_ahead)).replace(
            hour=15, minute=0, second=0, microsecond=0
        )
        response = await self.retrier.send(
            "POST",
            f"/sessions/mentorships/{mentorship_id}/meetings",
            self.member(mentee_id),
            json={
                "start": start.replace(tzinfo=None).isoformat(),
                "time_zone": "UTC",
                "duration_minutes": 30,
                "mode": "video",
            },
        )

        async def read_back() -> dict | None:
            url = f"/sessions/mentorships/{mentorship_id}/meetings"
            found = await self.all_pages(url, self.member(mentee_id))
            return found[0] if found else None

        return await self.written(response, 201, read_back)

    async def once_known(
        self,
        method: str,
        url: str,
        actor: Actor,
        *,
        json: Any = None,
        status: int,
        timeout: float,
        read_back=None,
    ) -> dict | None:
        """A write that depends on another service's events: 404 or 422 until they arrived.
        Each try is a new request (a new key), since a 4xx answer is stored under its key."""
        deadline = time.monotonic() + timeout
        while True:
            response = await self.retrier.send(method, url, actor, json=json)
            if response.status_code == status or (read_back and response_lost(response)):
                return await self.written(response, status, read_back)
            assert response.status_code in (404, 422), (response.status_code, response.text)
            if time.monotonic() > deadline:
                detail = response.json().get("detail", "")
                self.gave_up.append(f"{method} {url.split('/')[-1]}: {detail[:150]}")
                return None
            await asyncio.sleep(2)

    async def all_pages(self, url: str, actor: Actor, **params: Any) -> list[dict]:
        found: list[dict] = []
        cursor = None
        while True:
            query = {**params, "limit": 100} | ({"cursor": cursor} if cursor else {})
            response = await self.retrier.send("GET", url, actor, params=query)
            page = expect(response, 200)
            found += page["data"]
            cursor = page.get("next_cursor")
            if not cursor:
                return found
