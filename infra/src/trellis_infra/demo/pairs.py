"""From proposals to mentorships at work, as a pipeline: each side answers its proposal (most say
yes, some decline, a few mentors have yet to answer); sessions starts a mentorship for each match
from the `match.accepted` event; each started pair then goes on with journey.py. The answers and
the pairs' work go on side by side, so matching and sessions are busy at the same time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from trellis_infra.demo import data, journey
from trellis_infra.demo.client import Api, DemoError
from trellis_infra.demo.seed import Seeded
from trellis_infra.demo.show import Bar, Show

ACCEPTED, DECLINED = 0.85, 0.09  # the rest: the student said yes, the alum has not answered yet
MENTOR_REASONS = (
    "I can only take one mentee this term",
    "Travelling most weeks until February",
    "Another alum would fit these goals better",
)
MENTEE_REASONS = (
    "I found a mentor through my department",
    "I was hoping for someone closer to my time zone",
)
PATIENCE_S = 300  # without a new mentorship for this long, something is wrong


@dataclass(frozen=True)
class Answer:
    kind: str  # "accept", "decline" or "pending"
    by_mentor: bool = False
    reason: str = ""


def answer_of(state: Seeded, proposal: dict) -> Answer:
    """The pair's answer, drawn from the seed and the student: the same on every run."""
    r = data.rng(state.cohort.seed, "decision", state.people[proposal["mentee_id"]].external_id)
    chance = r.random()
    if chance < ACCEPTED:
        return Answer("accept")
    if chance < ACCEPTED + DECLINED:
        by_mentor = r.random() < 0.6
        return Answer(
            "decline", by_mentor, r.choice(MENTOR_REASONS if by_mentor else MENTEE_REASONS)
        )
    return Answer("pending")


async def _answer(api: Api, state: Seeded, proposal: dict, answer: Answer) -> None:
    url = f"/matching/proposals/{proposal['id']}"
    mentee, mentor = proposal["mentee_id"], proposal["mentor_id"]
    if answer.kind == "decline":
        who = mentor if answer.by_mentor else mentee
        await api.call("POST", f"{url}/decline", as_=who, json={"reason": answer.reason})
        state.declined.append(proposal)
        return
    await api.call("POST", f"{url}/accept", as_=mentee)
    if answer.kind == "pending":
        state.pending.append(proposal)
        return
    decided = await api.call("POST", f"{url}/accept", as_=mentor)
    if decided["status"] != "accepted":
        raise DemoError(f"proposal {proposal['id']} is {decided['status']} after both said yes")
    state.accepted.append(proposal)


async def _new_mentorships(api: Api, state: Seeded, seen: set[str], *, full: bool) -> list[dict]:
    """Mentorships not seen yet. The list is newest first, so the pages up to the first one with
    a known mentorship usually hold every new one; a full pass now and then catches any that
    committed late with an earlier start."""
    found: list[dict] = []
    cursor = None
    while True:
        params = {"program": state.program["id"], "limit": 100} | (
            {"cursor": cursor} if cursor else {}
        )
        page = await api.call("GET", "/sessions/mentorships", params=params)
        fresh = [m for m in page["data"] if m["id"] not in seen]
        found += fresh
        cursor = page.get("next_cursor")
        if not cursor or (len(fresh) < len(page["data"]) and not full):
            return found


async def _watch(api: Api, state: Seeded, want: int, bar: Bar, queue: asyncio.Queue) -> None:
    """Hand each mentorship to the workers as soon as it has started."""
    seen: set[str] = set()
    last_news = time.monotonic()
    polls = 0
    while len(seen) < want:
        polls += 1
        for mentorship in await _new_mentorships(api, state, seen, full=polls % 10 == 0):
            seen.add(mentorship["id"])
            state.mentorships.append(mentorship)
            await queue.put(mentorship)
            last_news = time.monotonic()
        bar.update(completed=len(seen))
        if time.monotonic() - last_news > PATIENCE_S:
            raise DemoError(f"{len(seen)} of {want} mentorships started; none for {PATIENCE_S} s")
        if len(seen) < want:
            await asyncio.sleep(1.5)


async def pairs(api: Api, show: Show, state: Seeded) -> None:
    proposals = await api.pages(
        "/matching/proposals", program=state.program["id"], status="proposed"
    )
    answers = {p["id"]: answer_of(state, p) for p in proposals}
    matched = [p for p in proposals if answers[p["id"]].kind == "accept"]
    drifting = journey.drifting_one(state, matched)
    plans = journey.plan_meetings(state, matched)
    n = len(matched) - 1  # the drifting pair has its own story
    queue: asyncio.Queue = asyncio.Queue()
    with show.bars(
        {
            "answered": ("Students and alumni answer their proposals", len(proposals)),
            "started": ("Mentorships start (match.accepted → sessions)", len(matched)),
            "agreements": ("Agreements written and signed by both", n),
            "meetings": ("Recurring meetings planned across time zones", n),
            "pulse": ("Check-ins and feedback", n),
        }
    ) as bars:

        async def answer(proposal: dict) -> None:
            await _answer(api, state, proposal, answers[proposal["id"]])
            bars["answered"].advance()

        async def work() -> None:
            while (m := await queue.get()) is not None:
                plan = plans[m["match_id"]]
                if m["match_id"] == drifting["id"]:
                    state.drifting = m
                    await journey.drift(api, state, m, plan)
                else:
                    await journey.together(api, state, m, plan, bars)

        async with asyncio.TaskGroup() as group:
            workers = [group.create_task(work()) for _ in range(2 * api.concurrency)]
            watcher = group.create_task(_watch(api, state, len(matched), bars["started"], queue))
            await asyncio.gather(*(answer(p) for p in proposals))
            await watcher
            for _ in workers:
                await queue.put(None)
    counts, people = state.counts, state.people
    show.fact(
        f"{len(state.accepted)} matches accepted by both sides, {len(state.declined)} declined, "
        f"{len(state.pending)} waiting for the alum's answer"
    )
    healthy = sorted(
        (m for m in state.mentorships if m["id"] != state.drifting["id"]),
        key=lambda m: people[m["mentee_id"]].external_id,
    )
    for m in healthy[:3]:
        show.fact(plans[m["match_id"]]["line"])
    show.fact(
        f"{counts.get('agreements', 0)} agreements signed, {counts.get('meetings', 0)} meetings "
        f"scheduled, {counts.get('checkins', 0)} check-ins, {counts.get('feedback', 0)} feedback"
    )
    state.inbox_of = healthy[0]["mentee_id"]
    mentee, mentor = people[state.drifting["mentee_id"]], people[state.drifting["mentor_id"]]
    show.fact(
        f"drifting: {mentee.full_name} ({mentee.time_zone}) and {mentor.full_name} "
        f"({mentor.time_zone}): the alum never signed, 2 meetings cancelled, check-ins 2/5 "
        f"and 1/5 → health {state.health['score']} < threshold {state.health['threshold']}"
    )
