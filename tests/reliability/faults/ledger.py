"""The chaos test's ledger: every write that got a 2xx and what it implies downstream, and the
comparison with what the services hold and the partner's endpoint received."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from tests.reliability.faults.cohorts import Org
from tests.reliability.faults.conftest import Receiver, database

EVENT = "trellis.{}.v1".format


@dataclass
class Pair:
    org: Org
    program_id: str
    mentor: str | None = None
    mentee: str | None = None
    enrollments: dict[str, str] = field(default_factory=dict)  # person -> enrollment id
    proposal: str | None = None  # match.proposed (the mentee's request)
    match: str | None = None  # match.accepted (the mentor's accept)
    mentorship: str | None = None  # started by sessions from the match
    meeting: str | None = None  # meeting.scheduled


def writes(pairs: list[Pair]) -> int:
    """The ledger's entries: each write of a pair that got a 2xx."""
    return sum(
        len([x for x in (p.mentor, p.mentee, p.proposal, p.match, p.meeting) if x])
        + len(p.enrollments)
        for p in pairs
    )


@dataclass
class Tally:
    """One downstream effect: which keys the ledger expects once each, and how often each came."""

    effect: str
    expected: set = field(default_factory=set)
    seen: Counter = field(default_factory=Counter)

    @property
    def delivered(self) -> int:
        return sum(1 for key in self.expected if self.seen[key] > 0)

    @property
    def lost(self) -> int:
        return len(self.expected) - self.delivered

    @property
    def duplicated(self) -> int:
        """Extra copies of expected effects, plus effects of nothing the ledger holds."""
        extra = sum(n - 1 for key, n in self.seen.items() if key in self.expected and n > 1)
        return extra + sum(n for key, n in self.seen.items() if key not in self.expected)


def _path(link: str | None) -> str:
    return urlparse(link or "").path


async def tally(
    pairs: list[Pair], orgs: list[Org], receiver: Receiver, platform: Any
) -> list[Tally]:
    people = {p: pair for pair in pairs for p in (pair.mentor, pair.mentee) if p}
    inbox = {
        kind: Tally(f"{event} -> {kind} in inbox")
        for kind, event in (
            ("welcome", "person.registered"),
            ("enrolled", "enrollment.created"),
            ("match_proposed", "match.proposed"),
            ("match_accepted", "match.accepted"),
            ("mentorship_started", "mentorship.started"),
            ("meeting_scheduled", "meeting.scheduled"),
        )
    }
    mentorships = Tally("match.accepted -> mentorship in sessions")
    connections = Tally("match.accepted -> connection in profiles")
    registered = Tally("POST /profiles/people -> person in profiles")
    by_match = {pair.match: pair for pair in pairs if pair.match}
    for org in orgs:
        for mentorship in await org.all_pages("/sessions/mentorships", org.admin):
            mentorships.seen[mentorship["match_id"]] += 1
            # A pipeline cut short by the clock did not wait to see its mentorship start.
            if (pair := by_match.get(mentorship["match_id"])) and not pair.mentorship:
                pair.mentorship = mentorship["id"]
        for person in await org.all_pages("/profiles/people", org.admin):
            registered.seen[person["id"]] += 1
    for person, pair in people.items():
        inbox["welcome"].expected.add((person, f"/profiles/people/{person}"))
        if person in pair.enrollments:
            inbox["enrolled"].expected.add((person, f"/profiles/programs/{pair.program_id}"))
        for kind, entity, path in (
            ("match_proposed", pair.proposal, "/matching/proposals/{}"),
            ("match_accepted", pair.match, "/matching/proposals/{}"),
            # The welcome to a mentorship links its agreement, the first thing to settle.
            ("mentorship_started", pair.mentorship, "/sessions/mentorships/{}/agreement"),
            ("meeting_scheduled", pair.meeting, "/sessions/meetings/{}"),
        ):
            if entity:
                inbox[kind].expected.add((person, path.format(entity)))
        items = await pair.org.all_pages("/notifications/inbox", pair.org.member(person))
        for item in items:
            if item["kind"] in inbox:
                inbox[item["kind"]].seen[(person, _path(item["link"]))] += 1
    for pair in pairs:
        if pair.match:
            mentorships.expected.add(pair.match)
            connections.expected.add((pair.mentee, pair.match))
            found = await pair.org.all_pages(
                f"/profiles/people/{pair.mentee}/connections", pair.org.member(pair.mentee)
            )
            for connection in found:
                connections.seen[(pair.mentee, connection["source_id"])] += 1
    registered.expected = set(people)
    read_models = await projections(pairs, orgs, platform)
    return [
        registered,
        *read_models,
        *inbox.values(),
        mentorships,
        connections,
        *webhooks(pairs, receiver),
    ]


async def projections(pairs: list[Pair], orgs: list[Org], platform: Any) -> list[Tally]:
    """The other services' copies of profiles' people and enrollments (read from their tables:
    no API lists them), one row each."""
    people = {p for x in pairs for p in (x.mentor, x.mentee) if p}
    enrollments = {e for x in pairs for e in x.enrollments.values()}
    tallies = []
    async with database(platform) as db:
        for table, expected in (
            ("matching.person_view", people),
            ("matching.enrollment_view", enrollments),
            ("sessions.person_view", people),
            ("notifications.person_view", people),
        ):
            rows = await db.fetch(
                f"SELECT id::text FROM {table} WHERE organization_id = ANY($1::uuid[])",
                [org.id for org in orgs],
            )
            event = "enrollment.created" if "enrollment" in table else "person.registered"
            found = Tally(f"{event} -> {table}", expected=set(expected))
            found.seen.update(r["id"] for r in rows)
            tallies.append(found)
    return tallies


def webhooks(pairs: list[Pair], receiver: Receiver) -> list[Tally]:
    """Per event type, the distinct deliveries (webhook-ids) the partner verified for each of
    the ledger's entities; the same webhook-id twice is a retry the partner deduplicates."""
    expected = {
        EVENT("profiles.person.registered"): {p for x in pairs for p in (x.mentor, x.mentee) if p},
        EVENT("profiles.enrollment.created"): {e for x in pairs for e in x.enrollments.values()},
        EVENT("matching.match.proposed"): {x.proposal for x in pairs if x.proposal},
        EVENT("matching.match.accepted"): {x.match for x in pairs if x.match},
        EVENT("sessions.mentorship.started"): {x.mentorship for x in pairs if x.mentorship},
        EVENT("sessions.meeting.scheduled"): {x.meeting for x in pairs if x.meeting},
    }
    ids: dict[tuple[str, str], set[str]] = {}
    for webhook_id, event in receiver.verified:
        ids.setdefault((event["type"], event["subject"]), set()).add(webhook_id)
    tallies = []
    for event_type, subjects in expected.items():
        short = event_type.removeprefix("trellis.").removesuffix(".v1").split(".", 1)[1]
        found = Tally(f"{short} -> webhook", expected=set(subjects))
        for (type_, subject), webhook_ids in ids.items():
            if type_ == event_type:
                found.seen[subject] += len(webhook_ids)
        tallies.append(found)
    return tallies
