"""Candidate selection: each mentee's k best feasible mentors, exactly as a full sort would pick
them, with the best pruned score that lets the solver bound what pruning cost."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from trellis_matching.engine import candidates as selection
from trellis_matching.engine.candidates import top_candidates
from trellis_matching.engine.features import MenteeProfile, MentorProfile, build_cohort
from trellis_matching.engine.generate import generate_cohort
from trellis_matching.engine.score import score_block

WEEK = date(2026, 3, 9)
WEIGHTS = {"availability": 2.0, "style": 0.5}


@pytest.fixture(scope="module")
def cohort():
    mentees, mentors = generate_cohort(300, 400, seed=5)
    return build_cohort(mentees, mentors, week_of=WEEK)


def brute_force(scores: np.ndarray, k: int) -> tuple[list[list[int]], np.ndarray]:
    """Per row: the k best feasible mentors by (score desc, index asc), and the next one's score."""
    best, pruned = [], np.full(len(scores), -np.inf, np.float32)
    for i, row in enumerate(scores):
        feasible = np.flatnonzero(np.isfinite(row))
        ranked = feasible[np.lexsort((feasible, -row[feasible]))]
        best.append(ranked[:k].tolist())
        if len(ranked) > k:
            pruned[i] = row[ranked[k]]
    return best, pruned


def assert_equal_to_brute_force(cohort, k, constraints=None, **options):
    got = top_candidates(cohort, WEIGHTS, constraints, k=k, **options)
    scores = score_block(cohort, WEIGHTS, constraints, slice(None))
    best, pruned = brute_force(scores, k)
    for i, mentors in enumerate(best):
        mine = got.mentee == i
        assert got.mentor[mine].tolist() == mentors, f"mentee {i}"
        assert got.score[mine].tolist() == scores[i, mentors].tolist()
    np.testing.assert_array_equal(got.pruned_best, pruned)
    return got


@pytest.mark.parametrize("k", [1, 10, 50])
def test_every_mentor_ranked_in_blocks_equals_a_full_sort(cohort, k):
    # 400 mentors are few enough to rank whole rows; small blocks spread over the worker threads.
    got = assert_equal_to_brute_force(cohort, k, block_rows=64)
    assert got.k == k and (got.n_mentees, got.n_mentors) == (300, 400)


@pytest.mark.parametrize("k", [1, 10, 50])
def test_sampled_thresholds_lose_nothing(cohort, k, monkeypatch):
    monkeypatch.setattr(selection, "SAMPLE", 64)  # 400 mentors now take the sampled path
    assert_equal_to_brute_force(cohort, k, block_rows=128)
    assert_equal_to_brute_force(cohort, k, {"shared_language_required": False}, block_rows=128)


def test_rows_whose_sample_sets_the_bar_too_high_are_ranked_in_full(cohort, monkeypatch):
    monkeypatch.setattr(selection, "SAMPLE", 64)
    monkeypatch.setattr(selection, "EXPECTED_SURVIVORS", 0.01)  # threshold = the sample's best
    rescanned = []
    dense_top = selection._dense_top

    def counting(prep, rows, keep, work):
        rescanned.append(len(rows))
        return dense_top(prep, rows, keep, work)

    monkeypatch.setattr(selection, "_dense_top", counting)
    assert_equal_to_brute_force(cohort, 20, block_rows=100)
    assert sum(rescanned) > 100  # most rows fell short and were rescanned


def test_candidates_are_grouped_by_mentee_best_first_with_scores_in_the_unit_interval(cohort):
    got = top_candidates(cohort, None, None, k=5)
    assert got.mentee.dtype == got.mentor.dtype == np.int32
    assert got.score.dtype == got.pruned_best.dtype == np.float32
    assert np.all(np.diff(got.mentee) >= 0)
    same = got.mentee[1:] == got.mentee[:-1]
    assert np.all(got.score[1:][same] <= got.score[:-1][same])
    assert got.score.min() >= 0 and got.score.max() <= 1
    assert np.all(got.pruned_best <= got.score[np.r_[np.flatnonzero(~same), len(same)]])


@pytest.mark.parametrize("k", [3, 7])  # with k = 3 the 100 tied survivors overflow the dense path
def test_ties_go_to_the_lower_mentor_index(monkeypatch, k):
    monkeypatch.setattr(selection, "SAMPLE", 16)
    mentees = [MenteeProfile(person_id=f"e{i}", languages=("en",)) for i in range(5)]
    mentors = [MentorProfile(person_id=f"m{j}", languages=("en",)) for j in range(100)]
    cohort = build_cohort(mentees, mentors, week_of=WEEK)
    got = top_candidates(cohort, None, None, k=k)
    assert got.mentor.reshape(5, k).tolist() == [list(range(k))] * 5
    assert np.all(got.pruned_best == got.score[0])


def test_a_mentee_with_few_feasible_mentors_gets_only_those_and_loses_nothing_to_pruning():
    mentees = [MenteeProfile(person_id="e", languages=("ja",)),
               MenteeProfile(person_id="f", languages=("en",))]  # fmt: skip
    mentors = [
        MentorProfile(person_id=f"m{j}", languages=("ja",) if j % 40 == 0 else ("en",))
        for j in range(120)
    ]
    got = top_candidates(build_cohort(mentees, mentors, week_of=WEEK), None, None, k=10)
    assert got.mentor[got.mentee == 0].tolist() == [0, 40, 80]
    assert got.pruned_best[0] == -np.inf
    assert (got.mentee == 1).sum() == 10 and np.isfinite(got.pruned_best[1])


def test_a_cohort_without_mentors_has_no_candidates():
    cohort = build_cohort([MenteeProfile(person_id="e")], [], week_of=WEEK)
    got = top_candidates(cohort, None, None, k=3)
    assert len(got.mentee) == 0 and got.pruned_best.tolist() == [-np.inf]
