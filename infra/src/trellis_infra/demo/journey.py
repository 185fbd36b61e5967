"""What one matched pair does once its mentorship has started: the agreement written by the
student and signed by both, a recurring meeting across their two time zones, and now and then a
check-in or feedback. One pair drifts: the mentor never signs, two meetings are called off, both
check in unhappy, and its health falls below the program's threshold.

Meetings are planned in the mentor's zone (the alum offers a slot from their own week), each of a
mentor's mentees on a different weekday or hour, so a mentor's series never overlap, whatever the
daylight-saving changes; a slot is taken only if it falls between 07:00 and 22:00 for the student
too, where one does.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from trellis_infra.demo import data
from trellis_infra.demo.client import Api, DemoError
from trellis_infra.demo.seed import Seeded
from trellis_infra.demo.show import Bar

COUNT = 4  # occurrences planned per series: the first ones, before the pair plans further
CHANNELS = ("video", "phone", "chat", "email", "in_person")
GOOD_CHECKINS = {5: 45, 4: 40, 3: 15}
FEEDBACK = (
    "The mock interview was exactly what I needed.",
    "Clear, practical advice on my CV and a useful introduction.",
    "Helped me see which roles fit what I enjoy.",
    "Great questions; I left with three concrete next steps.",
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _candidates(mentor: data.Person) -> list[tuple[int, time]]:
    """Slots the alum would offer, from their availability first, then lunch and early hours."""
    found: list[tuple[int, time]] = []
    for weekday, start, _ in mentor.availability:
        hours = (9, 10, 11) if weekday >= 5 else (18, 19, 20)
        minute = 0 if weekday >= 5 else int(start[3:])
        found += [(weekday, time(h, minute)) for h in hours]
    found += [(d, time(h, 0)) for h in (12, 8, 7, 21) for d in range(5)]
    return list(dict.fromkeys(found))


def _first(weekday: int, at: time, zone: ZoneInfo, after: datetime) -> datetime:
    """The first `weekday` at `at` (wall time in `zone`) at least three days after `after`."""
    day: date = after.astimezone(zone).date() + timedelta(days=3)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    return datetime.combine(day, at, tzinfo=zone)


def plan_meetings(state: Seeded, pairs: list[dict]) -> dict[str, dict]:
    """Each pair's series (pairs are proposals): proposal id -> the meeting body and its line."""
    people, now = state.people, datetime.now(UTC)
    by_mentor: dict[str, list[dict]] = defaultdict(list)
    for pair in pairs:
        by_mentor[pair["mentor_id"]].append(pair)
    plans: dict[str, dict] = {}
    for mentor_id, theirs in by_mentor.items():
        mentor, taken = people[mentor_id], set()
        zone = ZoneInfo(mentor.time_zone)
        for pair in sorted(theirs, key=lambda x: people[x["mentee_id"]].external_id):
            mentee = people[pair["mentee_id"]]
            there = ZoneInfo(mentee.time_zone)
            free = [c for c in _candidates(mentor) if c not in taken]
            fits = [c for c in free if 7 <= _first(*c, zone, now).astimezone(there).hour < 22]
            weekday, at = (fits or free)[0]
            taken.add((weekday, at))
            start = _first(weekday, at, zone, now)
            weekly = data.rng(state.cohort.seed, "cadence", mentee.external_id).random() < 0.25
            local = start.astimezone(there)
            plans[pair["id"]] = {
                "cadence_days": 7 if weekly else 14,
                "body": {
                    "start": start.replace(tzinfo=None).isoformat(),
                    "time_zone": mentor.time_zone,
                    "duration_minutes": 45,
                    "recurrence": f"FREQ=WEEKLY;{'' if weekly else 'INTERVAL=2;'}COUNT={COUNT}",
                    "mode": "video",
                    "agenda": "Goals, progress since last time, one next step each",
                },
                "line": f"{mentee.full_name} ({mentee.time_zone}) ↔ {mentor.full_name} "
                f"({mentor.time_zone}): {'every' if weekly else 'every other'} "
                f"{WEEKDAYS[weekday]} {at:%H:%M} for the alum = {WEEKDAYS[local.weekday()]} "
                f"{local:%H:%M} for the student",
            }
    return plans


def drifting_one(state: Seeded, pairs: list[dict]) -> dict:
    """The pair whose zones are furthest apart (the first student on ties)."""
    people, now = state.people, datetime.now(UTC)

    def apart(pair: dict) -> tuple[float, str]:
        mentee, mentor = people[pair["mentee_id"]], people[pair["mentor_id"]]
        a, b = (ZoneInfo(p.time_zone).utcoffset(now) for p in (mentee, mentor))
        return (-abs((a - b).total_seconds()), mentee.external_id)

    return min(pairs, key=apart)


def _agreement(mentee: data.Person, mentor: data.Person, cadence: int) -> dict:
    shared = [c for c in CHANNELS if c in mentee.communication and c in mentor.communication]
    return {
        "goals": [text for _, text in mentee.goals][:10] or ["Find a direction for a first job"],
        "mentor_expectations": "Come with one question each time; send drafts a day ahead.",
        "mentee_expectations": "Honest feedback, and an introduction when it would help.",
        "cadence_days": cadence,
        "meeting_minutes": 45,
        "channels": shared or ["video"],
        "boundaries": "No meetings in exam weeks; replies within three days.",
        "confidentiality": "What we discuss stays between us unless we agree otherwise.",
        "review_on": str(datetime.now(UTC).date() + timedelta(days=60)),
    }


async def together(api: Api, state: Seeded, m: dict, plan: dict, bars: dict[str, Bar]) -> None:
    """A healthy pair: agreement signed by both, the series planned, maybe a check-in."""
    people, counts, seed = state.people, state.counts, state.cohort.seed
    mentee, mentor = people[m["mentee_id"]], people[m["mentor_id"]]
    url = f"/sessions/mentorships/{m['id']}"
    body = _agreement(mentee, mentor, plan["cadence_days"])
    draft = await api.call("PUT", f"{url}/agreement", as_=m["mentee_id"], json=body, expect=(201,))
    for who in (m["mentee_id"], m["mentor_id"]):
        signed = await api.call(
            "POST", f"{url}/agreement/sign", as_=who, json={"version": draft["version"]}
        )
    if signed["state"] != "signed":
        raise DemoError(f"the agreement of {m['id']} is {signed['state']}")
    counts["agreements"] = counts.get("agreements", 0) + 1
    bars["agreements"].advance()

    r = data.rng(seed, "pulse", mentee.external_id)
    series = await api.call(
        "POST",
        f"{url}/meetings",
        as_=m["mentor_id"] if r.random() < 0.5 else m["mentee_id"],
        json=plan["body"],
        expect=(201,),
    )
    counts["meetings"] = counts.get("meetings", 0) + len(series["occurrences"])
    bars["meetings"].advance()

    for who, chance in ((m["mentee_id"], 0.35), (m["mentor_id"], 0.15)):
        if r.random() < chance:
            rating = r.choices(list(GOOD_CHECKINS), weights=GOOD_CHECKINS.values())[0]
            await api.call(
                "POST", f"{url}/checkins", as_=who, json={"rating": rating}, expect=(201,)
            )
            counts["checkins"] = counts.get("checkins", 0) + 1
    if r.random() < 0.2:
        body = {"rating": r.choice((4, 5, 5)), "comments": r.choice(FEEDBACK)}
        await api.call(
            "POST",
            f"{url}/feedback",
            as_=m["mentee_id"],
            json=body | {"visibility": "shared"},
            expect=(201,),
        )
        counts["feedback"] = counts.get("feedback", 0) + 1
    bars["pulse"].advance()


async def drift(api: Api, state: Seeded, m: dict, plan: dict) -> None:
    """The drifting pair: an agreement only the student signs, two meetings called off, two
    unhappy check-ins. Its health, judged now, falls below the program's threshold."""
    url = f"/sessions/mentorships/{m['id']}"
    mentee, mentor = state.people[m["mentee_id"]], state.people[m["mentor_id"]]
    body = _agreement(mentee, mentor, plan["cadence_days"])
    draft = await api.call("PUT", f"{url}/agreement", as_=m["mentee_id"], json=body, expect=(201,))
    await api.call(
        "POST", f"{url}/agreement/sign", as_=m["mentee_id"], json={"version": draft["version"]}
    )
    series = await api.call(
        "POST", f"{url}/meetings", as_=m["mentee_id"], json=plan["body"], expect=(201,)
    )
    first, second = series["occurrences"][:2]
    for meeting, who, reason in (
        (first, m["mentor_id"], "Travelling for work that week"),
        (second, m["mentee_id"], "Exam week: I cannot make it"),
    ):
        await api.call(
            "POST", f"/sessions/meetings/{meeting['id']}/cancel", as_=who, json={"reason": reason}
        )
    for who, rating, blockers in (
        (m["mentee_id"], 2, "We keep missing each other: the slot never works for both of us"),
        (m["mentor_id"], 1, "Evenings here are the middle of the night there"),
    ):
        await api.call(
            "POST",
            f"{url}/checkins",
            as_=who,
            json={"rating": rating, "blockers": blockers},
            expect=(201,),
        )
    state.health = await api.call("GET", f"{url}/health")
