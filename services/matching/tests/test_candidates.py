"""Candidate selection: each mentee's k best feasible mentors, exactly as a full sort would pick
them, with the best pruned score that lets the solver bound what pruning cost."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from trellis_matching.engine import candidates as selection
from trellis_matching.engine.baselines import solve_dense_exact
from trellis_matching.engine.candidates import top_candidates
from trellis_matching.engine.features import build_cohort
from trellis_matching.engine.generate import generate_cohort
from trellis_matching.engine.optimal import solve_optimal
from trellis_matching.engine.profiles import MenteeProfile, MentorProfile
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
    got = top_candidates(cohort, WEIGHTS, constraints, k=k, mentor_k=0, **options)
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
@pytest.mark.parametrize("per_keep", [1, 2])
def test_a_bar_from_some_of_the_columns_loses_nothing(cohort, k, per_keep, monkeypatch):
    # A whole row's bar is the keep-th best of per_keep * keep fixed columns (the fewest that
    # guarantee keep survivors at 1), with and without the pairs the language rule makes infeasible.
    monkeypatch.setattr(selection, "BAR_COLUMNS_PER_KEEP", per_keep)
    assert_equal_to_brute_force(cohort, k, block_rows=64)
    assert_equal_to_brute_force(cohort, k, {"shared_language_required": False}, block_rows=64)
    assert selection._fixed_subset(400, per_keep * (k + 1), seed=2) is not None


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

    def counting(prep, rows, keep, work, *rest):
        rescanned.append(len(rows))
        return dense_top(prep, rows, keep, work, *rest)

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
    last = np.r_[np.flatnonzero(~same), len(same)]
    first = np.r_[0, last[:-1] + 1]
    assert np.all(got.pruned_best <= got.score[first])
    # Without mentor-side pairs a mentee keeps only pairs at least as good as any it lost.
    alone = top_candidates(cohort, None, None, k=5, mentor_k=0)
    ends = np.r_[np.flatnonzero(alone.mentee[1:] != alone.mentee[:-1]), len(alone.mentee) - 1]
    assert np.all(alone.pruned_best <= alone.score[ends])


@pytest.mark.parametrize("k", [3, 7])  # with k = 3 the 100 tied survivors overflow the dense path
@pytest.mark.parametrize("sample", [16, 1024])  # sampled bars; whole rows (100 <= 2 * 1024)
def test_ties_go_to_the_lower_mentor_index(monkeypatch, k, sample):
    monkeypatch.setattr(selection, "SAMPLE", sample)
    mentees = [MenteeProfile(person_id=f"e{i}", languages=("en",)) for i in range(5)]
    mentors = [MentorProfile(person_id=f"m{j}", languages=("en",)) for j in range(100)]
    cohort = build_cohort(mentees, mentors, week_of=WEEK)
    got = top_candidates(cohort, None, None, k=k, mentor_k=0)
    assert got.mentor.reshape(5, k).tolist() == [list(range(k))] * 5
    assert np.all(got.pruned_best == got.score[0])
    # Every mentor's best 2 of the 5 tied mentees are mentees 0 and 1: they get every mentor.
    got = top_candidates(cohort, None, None, k=k, mentor_k=2)
    for i in range(5):
        assert got.mentor[got.mentee == i].tolist() == list(range(100 if i < 2 else k))
    assert got.pruned_best.tolist() == [-np.inf] * 2 + [got.score[0]] * 3


def test_a_mentee_with_few_feasible_mentors_gets_only_those_and_loses_nothing_to_pruning():
    mentees = [MenteeProfile(person_id="e", languages=("ja",)),
               MenteeProfile(person_id="f", languages=("en",))]  # fmt: skip
    mentors = [
        MentorProfile(person_id=f"m{j}", languages=("ja",) if j % 40 == 0 else ("en",))
        for j in range(120)
    ]
    got = top_candidates(build_cohort(mentees, mentors, week_of=WEEK), None, None, k=10, mentor_k=0)
    assert got.mentor[got.mentee == 0].tolist() == [0, 40, 80]
    assert got.pruned_best[0] == -np.inf
    assert (got.mentee == 1).sum() == 10 and np.isfinite(got.pruned_best[1])


def test_a_cohort_without_mentors_has_no_candidates():
    cohort = build_cohort([MenteeProfile(person_id="e")], [], week_of=WEEK)
    got = top_candidates(cohort, None, None, k=3)
    assert len(got.mentee) == 0 and got.pruned_best.tolist() == [-np.inf]


def brute_force_union(scores: np.ndarray, k: int, mentor_k: int):
    """The pairs in a mentee's top k or a mentor's top mentor_k (ties to the lower index), in the
    order the candidates keep them, and per mentee the best feasible score outside them."""
    chosen = np.zeros(scores.shape, bool)
    for i, row in enumerate(scores):
        feasible = np.flatnonzero(np.isfinite(row))
        chosen[i, feasible[np.lexsort((feasible, -row[feasible]))][:k]] = True
    for j, column in enumerate(scores.T):
        feasible = np.flatnonzero(np.isfinite(column))
        chosen[feasible[np.lexsort((feasible, -column[feasible]))][:mentor_k], j] = True
    pairs = [
        [int(j) for j in np.flatnonzero(chosen[i])[np.argsort(-row[chosen[i]], kind="stable")]]
        for i, row in enumerate(scores)
    ]
    outside = np.where(np.isfinite(scores) & ~chosen, scores, -np.inf)
    return pairs, outside.max(axis=1).astype(np.float32)


def assert_union_equal_to_brute_force(cohort, k, mentor_k, **options):
    got = top_candidates(cohort, WEIGHTS, None, k=k, mentor_k=mentor_k, **options)
    scores = score_block(cohort, WEIGHTS, None, slice(None))
    pairs, pruned = brute_force_union(scores, k, mentor_k)
    assert np.all(np.diff(got.mentee) >= 0) and got.mentor_k == mentor_k
    for i, mentors in enumerate(pairs):
        mine = got.mentee == i
        assert got.mentor[mine].tolist() == mentors, f"mentee {i}"
        assert got.score[mine].tolist() == scores[i, mentors].tolist()
    np.testing.assert_array_equal(got.pruned_best, pruned)
    return got


@pytest.mark.parametrize(("k", "mentor_k"), [(1, 1), (5, 3), (10, 20), (3, 60)])
def test_each_mentors_best_mentees_join_and_pruned_best_is_the_best_pair_left_out(
    cohort, k, mentor_k, monkeypatch
):
    outside_rows = []
    best_outside = selection._best_outside

    def counting(prep, rows, *rest):
        outside_rows.append(len(rows))
        return best_outside(prep, rows, *rest)

    monkeypatch.setattr(selection, "_best_outside", counting)
    got = assert_union_equal_to_brute_force(cohort, k, mentor_k, block_rows=64)
    assert len(got.mentee) > 300 * k  # the mentors added pairs
    if mentor_k >= 20:  # a mentor took some mentee's (k+1)-th pair: found by a full rescan
        assert sum(outside_rows) > 0
    monkeypatch.setattr(selection, "SAMPLE", 64)  # mentees and mentors now take sampled bars
    assert_union_equal_to_brute_force(cohort, k, mentor_k, block_rows=128)


def test_columns_whose_sample_sets_the_bar_too_high_are_ranked_in_full(cohort, monkeypatch):
    monkeypatch.setattr(selection, "SAMPLE", 64)
    monkeypatch.setattr(selection, "EXPECTED_SURVIVORS", 0.01)
    rescanned = []
    dense_columns = selection._dense_columns

    def counting(prep, cols, *rest):
        rescanned.append(len(cols))
        return dense_columns(prep, cols, *rest)

    monkeypatch.setattr(selection, "_dense_columns", counting)
    # A column's bar is at least the 4th best of 64 sampled mentees: ~19 of 300 reach it, < 25.
    assert_union_equal_to_brute_force(cohort, 4, 25, block_rows=100)
    assert sum(rescanned) > 100  # most columns fell short and were ranked in full


def test_mentor_side_pairs_reach_the_dense_optimum_when_capacity_is_scarce():
    # 200 mentees, 85 seats: mentors fill up with mentees outside those mentees' own top 5.
    cohort = build_cohort(*generate_cohort(200, 40, seed=3), week_of=WEEK)
    capacity = cohort.capacity
    assert capacity.sum() < 100
    dense = solve_dense_exact(score_block(cohort, None, None, slice(None)), capacity)
    mentee_only = solve_optimal(top_candidates(cohort, k=5, mentor_k=0), capacity)
    union = solve_optimal(top_candidates(cohort, k=5, mentor_k=5), capacity)
    assert mentee_only.objective_scaled < dense.objective_scaled
    assert union.objective_scaled == dense.objective_scaled
    # Both bounds are proved; the union's is tighter.
    assert dense.objective_scaled <= union.objective_scaled + union.pruning.loss_bound_scaled
    assert union.pruning.loss_bound_scaled < mentee_only.pruning.loss_bound_scaled


def test_mentor_k_must_not_be_negative(cohort):
    with pytest.raises(ValueError, match="mentor_k"):
        top_candidates(cohort, None, None, k=3, mentor_k=-1)
