"""Explanations: what a person reads about a suggested pair, and that it adds up to the score."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from trellis_matching.engine.explain import explain
from trellis_matching.engine.factors import FACTORS
from trellis_matching.engine.features import build_cohort
from trellis_matching.engine.generate import generate_cohort
from trellis_matching.engine.profiles import Goal, MenteeProfile, MentorProfile, Slot
from trellis_matching.engine.score import score_block

WINTER = date(2026, 1, 12)


def texts(explanation, factor: str) -> list[str]:
    found = next(f for f in explanation.factors if f.name == factor)
    return [r.text for r in found.reasons]


@pytest.mark.parametrize(
    ("weights", "constraints"),
    [
        (None, None),
        ({"skills": 3.0, "style": 0.0}, {"max_time_zone_difference_hours": 6}),
        ({"availability": 0.5}, {"shared_language_required": False, "min_seniority_gap": 2}),
    ],
)
def test_every_explanation_adds_up_to_the_score_that_ranked_the_pair(weights, constraints):
    mentees, mentors = generate_cohort(25, 20, seed=11)
    cohort = build_cohort(mentees, mentors, week_of=WINTER)
    scores = score_block(cohort, weights, constraints, slice(None))
    seen_infeasible = False
    for i in range(25):
        for j in range(20):
            why = explain(cohort, weights, constraints, i, j)
            if np.isneginf(scores[i, j]):
                seen_infeasible = True
                assert not why.feasible and why.score is None and why.violations
            else:
                assert why.feasible and not why.violations
                assert why.score == pytest.approx(float(scores[i, j]), abs=1e-6)
    assert seen_infeasible


def test_a_good_pair_is_explained_factor_by_factor():
    learner = MenteeProfile(
        person_id="e",
        languages=("es-MX",),
        time_zone="Europe/Madrid",  # UTC+1 in January
        seniority_level=2,
        goals=(Goal("leadership", "Get better at Python, SQL and negotiation"),),
        availability=(Slot(1, "17:00", "19:00"),),
        preferences={"industry": "Energy"},
        industry="retail",
    )
    guide = MentorProfile(
        person_id="m",
        languages=("es", "en"),
        time_zone="America/Chicago",  # UTC-6 in January
        seniority_level=5,
        skills={"Python": "expert", "SQL": "advanced", "Negotiation": "beginner"},
        availability=(Slot(1, "10:00", "12:00"),),
        industry="energy",
    )
    why = explain(build_cohort([learner], [guide], week_of=WINTER), None, None, 0, 0)

    assert why.feasible
    assert texts(why, "skills") == [
        "3 of 4 goal skills covered",
        "offers Python (expert), SQL (advanced), Negotiation (beginner)",
    ]
    assert texts(why, "availability") == ["2 h/week overlap"]
    assert texts(why, "language") == ["shares Spanish"]
    assert texts(why, "time_zone") == ["7 h apart"]
    assert texts(why, "seniority") == ["mentor 3 levels more senior"]
    assert texts(why, "industry") == ["different industry"]
    assert texts(why, "preferences") == ["meets 1 of 1 stated preferences (industry)"]
    assert [f.name for f in why.factors] == list(FACTORS)
    assert {f.name for f in why.factors if not f.counted} == {"style"}  # nothing stated
    counted = [f for f in why.factors if f.counted]
    assert why.score == pytest.approx(sum(f.value for f in counted) / len(counted))


def test_an_infeasible_pair_names_the_constraints_it_fails():
    staff = MenteeProfile(person_id="e", languages=("fr",), manager_id="boss")
    boss = MentorProfile(person_id="boss", languages=("en",), time_zone="Asia/Tokyo")
    cohort = build_cohort([staff], [boss], week_of=WINTER)
    why = explain(cohort, None, {"max_time_zone_difference_hours": 3}, 0, 0)
    assert not why.feasible and why.score is None
    assert {r.code: r.text for r in why.violations} == {
        "no_shared_language": "no shared language",
        "time_zone_too_far": "9 h apart, more than the program's 3 h",
        "reporting_line": "mentor is in the mentee's reporting line",
    }


def test_the_reverse_reporting_line_and_a_declined_pair_are_explained_too():
    lead = MenteeProfile(person_id="lead", languages=("en",), declined_with=frozenset({"m2"}))
    report = MentorProfile(person_id="m1", languages=("en",), manager_id="lead")
    other = MentorProfile(person_id="m2", languages=("en",))
    cohort = build_cohort([lead], [report, other], week_of=WINTER)
    assert [r.text for r in explain(cohort, None, None, 0, 0).violations] == [
        "mentee is in the mentor's reporting line"
    ]
    assert [r.code for r in explain(cohort, None, None, 0, 1).violations] == ["declined"]
