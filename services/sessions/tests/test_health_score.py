"""The health score: each component moves it the right way, within 0..100, and a mentorship with
no meeting in twice its cadence falls below the default threshold on that fact alone."""

from __future__ import annotations

import numpy as np
import pytest

from trellis_sessions.health.score import NAMES, WEIGHTS, Facts, score

CADENCE = 14.0
# An established mentorship that meets on its cadence: three meetings in the last three
# windows, the last one a week ago, nothing cancelled, no check-ins, no dated goals.
STEADY = {
    "cadence_days": CADENCE,
    "age_days": 120,
    "completed": 3,
    "since_contact_days": 7,
}


def one(**changes: float) -> int:
    return int(score(Facts.one(**(STEADY | changes))).score[0])


def component(name: str, **changes: float) -> float:
    health = score(Facts.one(**(STEADY | changes)))
    return health.values[0, NAMES.index(name)]


def test_weights_sum_to_one_and_a_steady_mentorship_is_healthy():
    assert WEIGHTS.sum() == pytest.approx(1.0)
    assert one() >= 90


def test_a_brand_new_mentorship_without_any_facts_is_healthy():
    new = score(Facts.one(cadence_days=CADENCE, age_days=2)).score[0]
    assert new >= 90


def test_no_meeting_in_twice_the_cadence_falls_below_50_with_otherwise_neutral_facts():
    # The last meeting 2 cadences ago, and it was the only one in the window.
    assert one(completed=1, since_contact_days=2 * CADENCE) < 50
    # Never met at all since the start, two cadences ago.
    assert score(Facts.one(cadence_days=CADENCE, age_days=2 * CADENCE)).score[0] < 50
    # Just inside twice the cadence it is not yet at risk on this fact alone.
    assert one(completed=2, since_contact_days=1.2 * CADENCE) >= 50


def test_fewer_meetings_than_the_cadence_asks_lower_the_score():
    scores = [one(completed=n) for n in (3, 2, 1, 0)]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    assert component("cadence", completed=3) == 1.0
    assert component("cadence", completed=0) == 0.0


def test_a_young_mentorship_has_grace_for_its_first_meeting():
    assert component("cadence", age_days=CADENCE * 0.5, completed=0) == 1.0
    fading = [
        component("cadence", age_days=CADENCE * k, completed=0, since_contact_days=1)
        for k in (1.0, 1.5, 2.0)
    ]
    assert fading == [1.0, 0.5, 0.0]


def test_older_contact_lowers_the_score():
    scores = [one(since_contact_days=d) for d in (1, CADENCE, 1.5 * CADENCE, 2 * CADENCE, 90)]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == scores[1] > scores[2] > scores[3] == scores[4]


def test_cancellations_lower_the_score():
    assert one(cancelled=0) > one(cancelled=1) > one(cancelled=3)
    assert component("cancellations", completed=0, cancelled=0) == 1.0  # nothing to judge
    assert component("cancellations", completed=1, cancelled=3) == 0.25


def test_check_in_sentiment_moves_the_score_with_the_rating():
    scores = [one(checkins=2, checkin_mean=r) for r in (5, 4, 3, 2, 1)]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    # No check-ins is neutral: the same as people saying it is going fine.
    assert one() == one(checkins=3, checkin_mean=4)


def test_goals_behind_schedule_lower_the_score():
    on_track = one(goals=2, goal_progress=0.6, goal_elapsed=0.5)
    behind = one(goals=2, goal_progress=0.2, goal_elapsed=0.7)
    way_behind = one(goals=2, goal_progress=0.0, goal_elapsed=1.0)
    assert on_track == one() > behind > way_behind  # no goals is neutral: on schedule


@pytest.mark.parametrize("seed", range(5))
def test_scores_stay_within_0_and_100_and_match_the_single_path(seed):
    rng = np.random.default_rng(seed)
    n = 2_000
    facts = Facts(
        cadence_days=rng.choice([0, 1, 7, 14, 30], n),
        age_days=rng.uniform(0, 400, n),
        completed=rng.integers(0, 10, n),
        cancelled=rng.integers(0, 10, n),
        since_contact_days=np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 400, n)),
        checkins=rng.integers(0, 5, n),
        checkin_mean=rng.uniform(1, 5, n),
        goals=rng.integers(0, 4, n),
        goal_progress=rng.uniform(0, 1, n),
        goal_elapsed=rng.uniform(0, 1, n),
    )
    health = score(facts)
    assert health.score.min() >= 0 and health.score.max() <= 100
    assert ((health.values >= 0) & (health.values <= 1)).all()
    for i in rng.integers(0, n, 20):
        alone = Facts(**{k: v[i] for k, v in vars(facts).items()})
        assert score(alone).score[0] == health.score[i]


def test_extremes_reach_the_bounds():
    worst = score(
        Facts.one(
            cadence_days=7,
            age_days=365,
            completed=0,
            cancelled=5,
            since_contact_days=200,
            checkins=2,
            checkin_mean=1,
            goals=1,
            goal_progress=0,
            goal_elapsed=1,
        )
    )
    assert worst.score[0] == 0
    best = score(Facts.one(**STEADY, checkins=2, checkin_mean=5))
    assert best.score[0] == 100


def test_every_component_carries_a_reason_and_weak_ones_are_named():
    health = score(Facts.one(cadence_days=14, age_days=90, since_contact_days=40, completed=1))
    parts = health.components(0)
    assert [c.name for c in parts] == list(NAMES)
    assert all(c.reason for c in parts)
    assert sum(c.weight for c in parts) == pytest.approx(1.0)
    reasons = health.reasons(0)
    assert reasons[0] == "Last meeting or check-in 40 days ago (every 14 days agreed)"
    assert reasons[1].startswith("1 of 3 expected meetings held in the last 42 days")
    assert len(reasons) == 2  # cancellations, sentiment and goals are fine or neutral
