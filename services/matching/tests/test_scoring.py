"""Pair scoring: factor values on hand-built profiles, hard constraints, and the vectorised scores
against a slow per-pair reference written straight from the definitions."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from trellis_matching.engine.breakdown import factor_block
from trellis_matching.engine.exclusions import Pairs
from trellis_matching.engine.factors import FACTORS, Constraints, Weights, style_fit
from trellis_matching.engine.features import build_cohort
from trellis_matching.engine.profiles import Goal, MenteeProfile, MentorProfile, Slot
from trellis_matching.engine.score import score_block
from trellis_matching.engine.vocabulary import (
    goal_terms,
    mentor_offers,
    normalize,
    preference_terms,
)
from trellis_shared.contracts.profiles import MatchingConstraints, MatchingWeights

WINTER = date(2026, 1, 12)
US_SUMMER_EU_WINTER = date(2026, 3, 9)  # the US changed clocks on March 8, the EU on March 29


def mentee(pid="e", **fields) -> MenteeProfile:
    return MenteeProfile(person_id=pid, **{"languages": ("en",), **fields})


def mentor(pid="m", **fields) -> MentorProfile:
    return MentorProfile(person_id=pid, **{"languages": ("en",), "seniority_level": 6, **fields})


def pair(a: MenteeProfile, b: MentorProfile, *, week=WINTER, constraints=None, managers=None):
    """(factor values of the one pair, its score)."""
    cohort = build_cohort([a], [b], week_of=week, managers=managers)
    block = factor_block(cohort, None, constraints, slice(None))
    values = {f: float(v[0, 0]) for f, v in block.values.items()}
    score = float(score_block(cohort, None, constraints, slice(None))[0, 0])
    assert score == pytest.approx(block.combined()[0, 0], abs=1e-6)  # both paths agree
    return values, score


# --- factors on hand-built pairs --------------------------------------------------------------


def test_new_york_and_london_share_two_hours_in_winter_and_one_when_only_the_us_changed_clocks():
    new_york = mentee(time_zone="America/New_York", availability=(Slot(0, "09:00", "11:00"),))
    london = mentor(time_zone="Europe/London", availability=(Slot(0, "14:00", "16:00"),))

    winter, _ = pair(new_york, london, week=WINTER)
    march, _ = pair(new_york, london, week=US_SUMMER_EU_WINTER)

    assert winter["availability"] == 1.0  # 14:00-16:00 UTC on both sides: 2 h saturates
    assert march["availability"] == 0.5  # New York is at UTC-4 that week: only 14:00-15:00 UTC
    assert winter["time_zone"] == pytest.approx(1 - 5 / 12)
    assert march["time_zone"] == pytest.approx(1 - 4 / 12)


def test_a_slot_on_sunday_evening_in_tokyo_overlaps_a_monday_morning_slot_in_utc_across_the_week():
    tokyo = mentee(time_zone="Asia/Tokyo", availability=(Slot(6, "08:00", "09:00"),))
    # Sunday 08:00 Tokyo is Saturday 23:00 UTC; Monday 08:30 Tokyo is Sunday 23:30 UTC.
    utc = mentor(
        time_zone="UTC", availability=(Slot(5, "23:00", "24:00"), Slot(6, "23:30", "24:00"))
    )
    values, _ = pair(tokyo, utc)
    assert values["availability"] == 0.5  # one hour of Saturday 23:00-24:00 UTC


def test_a_regional_spanish_tag_shares_the_language_with_plain_spanish():
    values, score = pair(mentee(languages=("es-MX",)), mentor(languages=("es",)))
    assert values["language"] == 1.0 and np.isfinite(score)


def test_without_a_shared_language_the_pair_is_infeasible_unless_the_program_allows_it():
    a, b = mentee(languages=("pt-BR",)), mentor(languages=("es", "fr"))
    values, score = pair(a, b)
    assert values["language"] == 0.0 and score == -np.inf
    _, relaxed = pair(a, b, constraints={"shared_language_required": False})
    assert 0 <= relaxed <= 1


def test_the_locale_stands_in_for_languages_nobody_listed():
    values, _ = pair(mentee(languages=(), locale="de-AT"), mentor(languages=("de",)))
    assert values["language"] == 1.0


def test_skills_cover_the_goal_terms_weighted_by_the_mentors_level():
    learner = mentee(goals=(Goal("career growth", "Get better at Python and public speaking"),))
    expert = mentor(skills={"Python": "expert", "Public Speaking": "intermediate"})
    values, _ = pair(learner, expert)
    # Terms: "career growth" (the category), "python", "public speaking": (0 + 4/4 + 2/4) / 3.
    assert values["skills"] == pytest.approx(0.5)
    assert values["goals"] == 0.0  # the category is not among the mentor's topics


def test_a_listed_topic_counts_as_an_advanced_skill_and_fits_the_goal_category():
    learner = mentee(goals=(Goal("Leadership", "lead a team"),))
    values, _ = pair(learner, mentor(topics=("leadership",)))
    assert values["skills"] == pytest.approx(3 / 4)
    assert values["goals"] == 1.0


def test_goal_descriptions_match_the_longest_known_term():
    vocabulary = frozenset({"machine learning", "learning", "api"})
    learner = mentee(goals=(Goal("", "Machine learning, and designing APIs"),))
    assert goal_terms(learner, vocabulary) == ("machine learning", "api")


@pytest.mark.parametrize(
    ("mentee_level", "mentor_level", "expected"),
    [(3, 3, 0.0), (5, 3, 0.0), (3, 4, 0.5), (3, 5, 1.0), (3, 7, 1.0), (2, 8, 0.5), (0, 10, 0.0)],
)
def test_seniority_is_best_two_to_four_levels_up(mentee_level, mentor_level, expected):
    values, _ = pair(mentee(seniority_level=mentee_level), mentor(seniority_level=mentor_level))
    assert values["seniority"] == expected


def test_time_zones_are_compared_around_the_clock():
    # Auckland (UTC+13 in March) and Honolulu (UTC-10) are 23 h apart on paper, 1 h on the clock.
    values, _ = pair(mentee(time_zone="Pacific/Auckland"), mentor(time_zone="Pacific/Honolulu"),
                     week=US_SUMMER_EU_WINTER)  # fmt: skip
    assert values["time_zone"] == pytest.approx(1 - 1 / 12)
    values, _ = pair(mentee(time_zone="Asia/Kathmandu"), mentor(time_zone="UTC"))
    assert values["time_zone"] == pytest.approx(1 - 5.75 / 12)


def test_industry_and_function_each_count_half_when_both_are_stated():
    values, _ = pair(
        mentee(industry="Fintech", function="Engineering"),
        mentor(industry="fintech", function="Sales"),
    )
    assert values["industry"] == 0.5


def test_stated_preferences_count_only_for_mentees_who_state_them():
    # As senior as the mentors (a 0 factor): scores stay below 1 and can move both ways.
    wants = mentee(seniority_level=6, preferences={"Industry": "Health", "gender": "woman"})
    cohort = build_cohort(
        [wants, mentee("quiet")],
        [mentor(industry="health"), mentor("m2", industry="retail")],
        week_of=WINTER,
    )
    block = factor_block(cohort, None, None, slice(None))
    assert block.values["preferences"][0].tolist() == [1.0, 0.0]
    assert block.counted["preferences"].tolist() == [True, False]
    # Weighting preferences up moves the mentee who stated one and nobody else.
    plain = score_block(cohort, None, None, slice(None))
    heavy = score_block(cohort, {"preferences": 10.0}, None, slice(None))
    assert heavy[0, 0] > plain[0, 0] and heavy[0, 1] < plain[0, 1]
    assert np.array_equal(heavy[1], plain[1])


def test_the_score_is_the_weighted_mean_of_the_factors_that_apply():
    learner = mentee(
        languages=("es",), time_zone="Europe/Madrid", seniority_level=2, industry="retail"
    )
    guide = mentor(languages=("es",), time_zone="America/Mexico_City", seniority_level=5,
                   industry="energy")  # fmt: skip
    values, _ = pair(learner, guide)
    weights = {f: 0.0 for f in FACTORS} | {"language": 2.0, "time_zone": 1.0, "industry": 1.0}
    cohort = build_cohort([learner], [guide], week_of=WINTER)
    score = score_block(cohort, weights, None, slice(None))[0, 0]
    expected = (2 * values["language"] + values["time_zone"] + values["industry"]) / 4
    assert score == pytest.approx(expected, abs=1e-6)


def test_weights_and_constraints_read_the_program_settings_contract():
    weights = Weights.of(MatchingWeights(skills=3.0, language=0.0))
    assert (weights.skills, weights.language, weights.style) == (3.0, 0.0, 1.0)
    constraints = Constraints.of(MatchingConstraints(min_seniority_gap=2))
    assert constraints.min_seniority_gap == 2 and constraints.shared_language_required
    with pytest.raises(ValueError):
        Weights.of({"skills": -1})


def test_profiles_come_from_the_profiles_event_records():
    person = {
        "person_id": "p1", "languages": [], "locale": "fr-CA", "time_zone": "America/Toronto",
        "skills": [{"name": "Go", "level": "expert"}], "seniority_level": 7,
        "availability": [{"weekday": 1, "start": "18:00", "end": "19:30"}],
        "matching_preferences": {"industry": "energy"}, "mentoring_style": "coaching",
    }  # fmt: skip
    m = MentorProfile.from_records(person, {"capacity": None, "topics": ["go"]}, default_capacity=3)
    assert (m.capacity, m.topics, m.skills, m.availability[0]) == (
        3, ("go",), {"Go": "expert"}, Slot(1, "18:00", "19:30")
    )  # fmt: skip
    e = MenteeProfile.from_records(person, {"goals": [{"category": "x", "description": "y"}]})
    assert e.goals == (Goal("x", "y"),) and e.preferences == {"industry": "energy"}


# --- hard constraints -------------------------------------------------------------------------


def violations_of(mentees, mentors, constraints=None, managers=None) -> dict[str, np.ndarray]:
    cohort = build_cohort(mentees, mentors, week_of=WINTER, managers=managers)
    block = factor_block(cohort, None, constraints, slice(None))
    scores = score_block(cohort, None, constraints, slice(None))
    infeasible = np.logical_or.reduce(list(block.violations.values()))
    assert np.array_equal(np.isneginf(scores), infeasible)
    return {name: v for name, v in block.violations.items() if v.any()}


def test_a_mentor_in_the_mentees_chain_of_managers_is_excluded_and_so_is_the_reverse():
    # e reports to x (outside the cohort), who reports to the boss; e also manages m2.
    staff, boss, report = mentee("e", manager_id="x"), mentor("boss"), mentor("m2", manager_id="e")
    found = violations_of([staff], [boss, report, mentor("m3")], managers={"x": "boss"})
    assert found.keys() == {"reporting_line"}
    assert found["reporting_line"].tolist() == [[True, True, False]]
    assert violations_of([staff], [boss, report], {"exclude_reporting_line": False},
                         managers={"x": "boss"}) == {}  # fmt: skip


def test_same_person_declined_excluded_and_full_mentors_are_excluded():
    mentees = [
        mentee("a", declined_with=frozenset({"m1"})),
        mentee("b", excluded=frozenset({"m2"})),
        mentee("m3"),
    ]
    mentors = [mentor("m1"), mentor("m2", declined_with=frozenset({"a"})), mentor("m3"),
               mentor("m4", capacity=0)]  # fmt: skip
    found = violations_of(mentees, mentors)
    assert np.argwhere(found["declined"]).tolist() == [[0, 0], [0, 1]]
    assert np.argwhere(found["excluded"]).tolist() == [[1, 1]]
    assert np.argwhere(found["same_person"]).tolist() == [[2, 2]]
    assert found["no_capacity"][:, 3].all() and not found["no_capacity"][:, :3].any()


def test_the_union_of_exclusion_lists_has_each_pair_once_sorted_by_mentee():
    parts = [Pairs.of([(2, 1), (0, 5)]), Pairs.of([]), Pairs.of([(0, 5), (0, 1), (1, 70000)])]
    union = Pairs.union(parts)
    assert list(zip(union.mentee.tolist(), union.mentor.tolist(), strict=True)) == [
        (0, 1),
        (0, 5),
        (1, 70000),
        (2, 1),
    ]
    assert union.mentee.dtype == union.mentor.dtype == np.int32
    assert len(Pairs.union([])) == 0


def test_program_limits_on_time_zone_distance_and_seniority_gap():
    mentees = [
        mentee(time_zone="Asia/Tokyo", seniority_level=4),
        mentee("e2", time_zone="Asia/Tokyo", seniority_level=None),
    ]
    mentors = [mentor(time_zone="America/New_York", seniority_level=6),
               mentor("m2", time_zone="Asia/Seoul", seniority_level=5)]  # fmt: skip
    found = violations_of(mentees, mentors, {"max_time_zone_difference_hours": 6,
                                             "min_seniority_gap": 2})  # fmt: skip
    assert found["time_zone_too_far"].tolist() == [[True, False], [True, False]]  # 14 h -> 10 h
    # A gap of 1 is too small; an unknown level cannot satisfy a required gap.
    assert found["seniority_gap_too_small"].tolist() == [[False, True], [True, True]]


# --- the vectorised scores against a per-pair reference ---------------------------------------

ZONES = (
    "America/New_York", "Europe/London", "Europe/Berlin", "Asia/Kathmandu", "Asia/Tokyo",
    "Australia/Lord_Howe", "America/St_Johns", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC",
)  # fmt: skip
TAGS = ("en", "en-GB", "es", "es-MX", "pt-BR", "fr", "de-CH", "ja", "hi")
SKILLS = ("Python", "machine learning", "learning", "public speaking", "SQL", "APIs", "Go",
          "design systems", "negotiation", "leadership")  # fmt: skip
CATEGORIES = ("leadership", "career growth", "technical", "design systems", "beekeeping")
LEARNING = ("visual", "hands_on", "auditory", "reading", "mixed")
MENTORING = ("coaching", "directive", "sponsoring", "sounding_board", "mixed")
CHANNELS = ("video", "chat", "phone", "in_person")
FIELDS = ("fintech", "health", "retail")


def _some(rng: random.Random, pool, most: int) -> tuple:
    return tuple(rng.sample(pool, rng.randint(0, most)))


def _maybe(rng: random.Random, pool):
    return rng.choice(pool) if rng.random() < 0.75 else None


def _slots(rng: random.Random) -> tuple[Slot, ...]:
    slots = []
    for _ in range(rng.randint(0, 4)):
        start = rng.randrange(0, 24 * 60, 5)
        end = min(start + rng.choice((10, 30, 60, 95, 180, 300, 600)), 24 * 60)
        slots.append(Slot(rng.randrange(7), f"{start // 60:02d}:{start % 60:02d}",
                          f"{end // 60:02d}:{end % 60:02d}"))  # fmt: skip
    return tuple(slots)


def random_people(seed: int, n_mentees: int, n_mentors: int):
    rng = random.Random(seed)
    ids = [f"p{x}" for x in range(n_mentees + n_mentors + 5)]

    def common(pid: str) -> dict:
        return {
            "person_id": pid,
            "languages": _some(rng, TAGS, 2),
            "locale": rng.choice(TAGS),
            "time_zone": rng.choice(ZONES),
            "availability": _slots(rng),
            "seniority_level": rng.randint(0, 10) if rng.random() < 0.85 else None,
            "industry": _maybe(rng, FIELDS),
            "function": _maybe(rng, ("engineering", "sales")),
            "manager_id": rng.choice(ids) if rng.random() < 0.15 else None,
            "communication": _some(rng, CHANNELS, 2),
            "declined_with": frozenset(rng.sample(ids, 2)) if rng.random() < 0.1 else frozenset(),
            "excluded": frozenset(rng.sample(ids, 1)) if rng.random() < 0.1 else frozenset(),
        }

    mentees = [
        MenteeProfile(
            **common(ids[i]),
            goals=tuple(
                Goal(rng.choice(CATEGORIES), f"I want {' and '.join(_some(rng, SKILLS, 3))}")
                for _ in range(rng.randint(0, 2))
            ),
            learning_style=_maybe(rng, LEARNING),
            preferences=(
                {
                    rng.choice(("industry", "language", "style", "gender")): rng.choice(
                        (*FIELDS, "es", "coaching", "mining")
                    )
                }
                if rng.random() < 0.3
                else {}
            ),
        )
        for i in range(n_mentees)
    ]
    mentors = [
        MentorProfile(
            **common(ids[n_mentees + j]),
            skills={
                s: rng.choice(("beginner", "intermediate", "advanced", "expert"))
                for s in _some(rng, SKILLS, 4)
            },
            topics=_some(rng, CATEGORIES[:-1] + SKILLS, 2),  # nobody offers beekeeping
            mentoring_style=_maybe(rng, MENTORING),
            capacity=rng.choice((0, 1, 2, 3)),
        )
        for j in range(n_mentors)
    ]
    # A couple of mentees who are also mentors in the same program.
    mentors[0] = replace(mentors[0], person_id=mentees[0].person_id)
    return mentees, mentors


def _minutes(clock: str) -> int:
    return int(clock[:2]) * 60 + int(clock[3:])


def reference_free(person, monday: date) -> set[int]:
    """UTC quarter-hours of the week in which the person's local clock is inside a slot."""
    zone, start = ZoneInfo(person.time_zone), datetime(*monday.timetuple()[:3], tzinfo=UTC)
    free = set()
    for t in range(7 * 96):
        local = (start + timedelta(minutes=15 * t)).astimezone(zone)
        minute = local.hour * 60 + local.minute
        if any(
            s.weekday == local.weekday() and _minutes(s.start) <= minute <= _minutes(s.end) - 15
            for s in person.availability
        ):
            free.add(t)
    return free


def reference_scores(mentees, mentors, weights, constraints, monday, managers) -> np.ndarray:
    w, k = Weights.of(weights), Constraints.of(constraints)
    levels = {"beginner": 1, "intermediate": 2, "advanced": 3, "expert": 4}

    def offered(m):
        terms = {normalize(s): levels[lv] for s, lv in m.skills.items()}
        for t in m.topics:
            terms[normalize(t)] = max(terms.get(normalize(t), 0), 3)
        return terms

    def speaks(p):
        tags = p.languages or (p.locale,)
        return {t.split("-")[0].lower() for t in tags}

    def offset(p):
        instant = datetime(*monday.timetuple()[:3], tzinfo=UTC) + timedelta(days=3.5)
        return instant.astimezone(ZoneInfo(p.time_zone)).utcoffset().total_seconds() / 60

    boss = {**managers, **{p.person_id: p.manager_id for p in (*mentees, *mentors)}}

    def chain(pid):
        seen = {pid}
        while (pid := boss.get(pid)) is not None and pid not in seen:
            seen.add(pid)
            yield pid

    vocabulary = frozenset(t for m in mentors for t in offered(m))
    mentor_free = [reference_free(m, monday) for m in mentors]
    out = np.zeros((len(mentees), len(mentors)))
    for i, e in enumerate(mentees):
        terms = goal_terms(e, vocabulary)
        categories = {normalize(g.category) for g in e.goals} - {""}
        free = reference_free(e, monday)
        wants = preference_terms(e)
        for j, m in enumerate(mentors):
            on, mine = offered(m), {}
            if terms:
                mine["skills"] = sum(on.get(t, 0) / 4 for t in terms) / len(terms)
            if categories:
                mine["goals"] = sum(c in on for c in categories) / len(categories)
            if free:
                mine["availability"] = min(len(free & mentor_free[j]), 8) / 8
            shared = speaks(e) & speaks(m)
            if speaks(e):
                mine["language"] = float(bool(shared))
            gap = abs(offset(e) - offset(m)) % 1440
            distance = min(gap, 1440 - gap)
            mine["time_zone"] = max(0.0, 1 - distance / 720)
            if e.seniority_level is not None:
                d = None if m.seniority_level is None else m.seniority_level - e.seniority_level
                mine["seniority"] = (
                    0.0 if d is None or d <= 0 else 0.5 if d == 1 else 1.0 if d <= 4
                    else max(0.0, 1 - (d - 4) / 4)
                )  # fmt: skip
            same = [
                normalize(a) == normalize(b or "")
                for a, b in ((e.industry, m.industry), (e.function, m.function))
                if a
            ]
            if same:
                mine["industry"] = sum(same) / len(same)
            if wants:
                mine["preferences"] = len(wants & mentor_offers(m)) / len(wants)
            style = []
            if e.learning_style:
                style.append(style_fit(e.learning_style, m.mentoring_style))
            if e.communication:
                shares = {normalize(x) for x in e.communication} & {
                    normalize(x) for x in m.communication
                }
                style.append(float(bool(shares)))
            if style:
                mine["style"] = sum(style) / len(style)
            total = sum(w[f] for f in mine)
            score = sum(w[f] * v for f, v in mine.items()) / total if total else 0.0

            infeasible = (
                e.person_id == m.person_id
                or m.capacity <= 0
                or m.person_id in e.declined_with | e.excluded
                or e.person_id in m.declined_with | m.excluded
                or (k.shared_language_required and not shared)
                or (k.max_time_zone_difference_hours is not None
                    and distance > 60 * k.max_time_zone_difference_hours)
                or (k.min_seniority_gap > 0 and (
                    e.seniority_level is None or m.seniority_level is None
                    or m.seniority_level - e.seniority_level < k.min_seniority_gap))
                or (k.exclude_reporting_line and (
                    m.person_id in set(chain(e.person_id))
                    or e.person_id in set(chain(m.person_id))))
            )  # fmt: skip
            out[i, j] = -np.inf if infeasible else score
    return out


LIMITS = {
    "shared_language_required": False,
    "max_time_zone_difference_hours": 9,
    "min_seniority_gap": 1,
    "exclude_reporting_line": False,
}


@pytest.mark.parametrize(
    ("seed", "week", "constraints"),
    [
        (1, WINTER, {}),
        (2, date(2026, 3, 23), {"shared_language_required": False}),  # EU clocks change Sunday
        (3, date(2026, 10, 26), LIMITS),  # US clocks fall back on Sunday
    ],
)
def test_vectorised_scores_equal_the_per_pair_reference(seed, week, constraints):
    mentees, mentors = random_people(seed, 40, 30)
    managers = {"p70": "p41", "p71": "p2", "p72": "p71"}  # people outside the cohort
    rng = random.Random(seed)
    weights = {f: rng.choice((0.0, 0.5, 1.0, 3.0)) for f in FACTORS}
    cohort = build_cohort(mentees, mentors, week_of=week, managers=managers)

    expected = reference_scores(mentees, mentors, weights, constraints, week, managers)
    got = score_block(cohort, weights, constraints, slice(None))

    assert got.dtype == np.float32 and got.shape == (40, 30)
    assert np.array_equal(np.isneginf(got), np.isneginf(expected))
    feasible = np.isfinite(expected)
    assert 0.1 < feasible.mean() < 1  # the cohort exercises both sides
    np.testing.assert_allclose(got[feasible], expected[feasible], atol=2e-6)
    # Any block of rows gives the same scores as the whole.
    np.testing.assert_array_equal(score_block(cohort, weights, constraints, slice(7, 19)),
                                  got[7:19])  # fmt: skip


def test_factor_values_lie_in_the_unit_interval_and_combine_to_the_score():
    mentees, mentors = random_people(4, 30, 25)
    cohort = build_cohort(mentees, mentors, week_of=WINTER)
    block = factor_block(cohort, {"skills": 2.0}, None, slice(None))
    for name, values in block.values.items():
        assert values.min() >= 0 and values.max() <= 1, name
    combined = block.combined()
    scores = score_block(cohort, {"skills": 2.0}, None, slice(None))
    feasible = np.isfinite(combined)
    assert np.array_equal(np.isfinite(scores), feasible)
    np.testing.assert_allclose(scores[feasible], combined[feasible], atol=2e-6)


def test_factors_for_a_few_mentors_equal_the_full_rows():
    mentees, mentors = random_people(5, 12, 20)
    cohort = build_cohort(mentees, mentors, week_of=WINTER)
    full = factor_block(cohort, None, LIMITS, slice(None))
    some = factor_block(cohort, None, LIMITS, [4, 0, 9], [17, 3])
    for name in full.values:
        np.testing.assert_array_equal(
            some.values[name], full.values[name][np.ix_([4, 0, 9], [17, 3])]
        )
    for name in full.violations:
        np.testing.assert_array_equal(
            some.violations[name], full.violations[name][np.ix_([4, 0, 9], [17, 3])]
        )
