"""Cohort solvers: exact optimum (with its proof), stable matching, greedy, dense reference."""

from __future__ import annotations

from collections import Counter
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from trellis_matching.engine import optimal
from trellis_matching.engine.assignment import SCALE, scaled
from trellis_matching.engine.baselines import solve_dense_exact, solve_greedy
from trellis_matching.engine.candidates import Candidates, top_candidates
from trellis_matching.engine.certificate import _certificate
from trellis_matching.engine.features import build_cohort
from trellis_matching.engine.generate import (
    CATEGORIES,
    SKILLS,
    generate_cohort,
    random_candidates,
)
from trellis_matching.engine.optimal import solve_optimal
from trellis_matching.engine.score import score_block
from trellis_matching.engine.stable import count_blocking_pairs, solve_stable


def candidates_from_dense(dense: np.ndarray, k: int) -> Candidates:
    """Each mentee's best k feasible mentors, shaped like engine.candidates.Candidates."""
    n, m = dense.shape
    order = np.argsort(-np.where(np.isfinite(dense), dense, -1.0), axis=1, kind="stable")
    rows, mentees, mentors, pruned_best = [], [], [], np.full(n, -np.inf, np.float32)
    for i in range(n):
        feasible = [j for j in order[i] if np.isfinite(dense[i, j])]
        kept, cut = feasible[:k], feasible[k:]
        mentees += [i] * len(kept)
        mentors += kept
        rows.append(dense[i, kept])
        if cut:
            pruned_best[i] = dense[i, cut].max()
    return Candidates(
        n_mentees=n,
        n_mentors=m,
        mentee=np.asarray(mentees, np.int32),
        mentor=np.asarray(mentors, np.int32),
        score=np.concatenate(rows).astype(np.float32) if rows else np.empty(0, np.float32),
        k=k,
        pruned_best=pruned_best,
    )


def random_dense(n: int, m: int, seed: int, forbidden: float = 0.3) -> np.ndarray:
    """Scores with a shared "mentor appeal" part so mentees compete for the same mentors."""
    rng = np.random.default_rng(seed)
    appeal = rng.random(m)
    dense = (0.5 * appeal[None, :] + 0.5 * rng.random((n, m))).astype(np.float32)
    dense[rng.random((n, m)) < forbidden] = -np.inf
    return dense


def dense_of(c: Candidates) -> np.ndarray:
    dense = np.full((c.n_mentees, c.n_mentors), -np.inf, np.float32)
    dense[c.mentee, c.mentor] = c.score
    return dense


def assert_valid(assignment, c, capacity: np.ndarray) -> None:
    """Only candidate pairs, each mentee at most once (by shape), no mentor over capacity,
    and the reported objective is the sum of the chosen pairs' scores."""
    assert assignment.mentor_of.shape == (c.n_mentees,)
    assert (assignment.load(c.n_mentors) <= capacity).all()
    dense = dense_of(c)
    matched = np.flatnonzero(assignment.mentor_of >= 0)
    picked = dense[matched, assignment.mentor_of[matched]]
    assert np.isfinite(picked).all()
    assert assignment.objective == pytest.approx(float(picked.astype(np.float64).sum()))
    assert assignment.objective_scaled == int(scaled(picked).sum())


def brute_force_blocking(c: Candidates, mentor_of: np.ndarray, capacity: np.ndarray) -> int:
    """Blocking pairs by definition, pair by pair, with the documented tie-breaks."""
    dense = dense_of(c)
    mentee_key = {}  # (i, j) -> key, larger is better for the mentee
    mentor_key = {}  # (i, j) -> key, larger is better for the mentor
    for i, j, s in zip(c.mentee.tolist(), c.mentor.tolist(), c.score.tolist(), strict=True):
        mentee_key[i, j] = (s, -j)
        mentor_key[i, j] = (s, -i)
    load = np.bincount(mentor_of[mentor_of >= 0], minlength=c.n_mentors)
    count = 0
    for (i, j), key in mentee_key.items():
        if mentor_of[i] == j:
            continue
        wants = mentor_of[i] < 0 or key > mentee_key[i, int(mentor_of[i])]
        held = [mentor_key[h, j] for h in np.flatnonzero(mentor_of == j)]
        welcome = load[j] < capacity[j] or mentor_key[i, j] > min(held)
        count += bool(wants and welcome and np.isfinite(dense[i, j]))
    return count


@pytest.mark.parametrize("seed", range(40))
def test_optimal_equals_the_dense_exact_optimum_on_the_same_graph(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 30)), int(rng.integers(1, 10))
    c = candidates_from_dense(random_dense(n, m, seed), k=int(rng.integers(1, m + 1)))
    capacity = rng.integers(0, 4, m)
    optimal = solve_optimal(c, capacity)
    dense = solve_dense_exact(dense_of(c), capacity)
    assert_valid(optimal, c, capacity)
    assert_valid(dense, c, capacity)
    assert optimal.status == "OPTIMAL"
    assert optimal.objective_scaled == dense.objective_scaled
    assert optimal.certificate.verified
    assert optimal.certificate.dual_objective_scaled == optimal.objective_scaled


@pytest.mark.parametrize("seed", range(25))
def test_optimal_beats_or_ties_stable_and_greedy(seed):
    rng = np.random.default_rng(100 + seed)
    n, m = int(rng.integers(5, 60)), int(rng.integers(2, 15))
    c = candidates_from_dense(random_dense(n, m, 100 + seed), k=int(rng.integers(1, m + 1)))
    capacity = rng.integers(1, 4, m)
    optimal, stable, greedy = (f(c, capacity) for f in (solve_optimal, solve_stable, solve_greedy))
    for assignment in (optimal, stable, greedy):
        assert_valid(assignment, c, capacity)
    assert optimal.objective_scaled >= stable.objective_scaled
    assert optimal.objective_scaled >= greedy.objective_scaled
    assert stable.blocking_pairs == 0
    assert brute_force_blocking(c, stable.mentor_of, capacity) == 0
    # The vectorised count agrees with the definition on assignments that are not stable.
    for other in (optimal, greedy):
        expected = brute_force_blocking(c, other.mentor_of, capacity)
        assert count_blocking_pairs(c, capacity, other.mentor_of) == expected


def test_the_stable_and_greedy_results_can_be_beaten_and_the_certificate_notices():
    """Hand-checked hospital-resident instance (mentees a b c d, mentors X cap 2, Y cap 1).

    Deferred acceptance: a, b, c propose to X, d to Y; X keeps a (.9) and c (.8) and rejects b;
    b proposes to Y (.6), which drops d (.4); d has no one left. Total 2.3, and stable.
    The optimum moves a to Y (.85) so both b and c fit at X: .85 + .8 + .7 = 2.35.
    """
    a, b, c_, d, x, y = 0, 1, 2, 3, 0, 1
    pairs = [(a, x, 0.9), (a, y, 0.85), (b, x, 0.7), (b, y, 0.6), (c_, x, 0.8), (c_, y, 0.5)]
    pairs += [(d, y, 0.4)]
    c = Candidates(
        n_mentees=4,
        n_mentors=2,
        mentee=np.array([p[0] for p in pairs], np.int32),
        mentor=np.array([p[1] for p in pairs], np.int32),
        score=np.array([p[2] for p in pairs], np.float32),
        k=2,
        pruned_best=np.full(4, -np.inf, np.float32),
    )
    capacity = np.array([2, 1])
    stable = solve_stable(c, capacity)
    assert stable.mentor_of.tolist() == [x, y, x, -1]
    assert stable.objective == pytest.approx(2.3)
    assert stable.blocking_pairs == 0
    assert solve_greedy(c, capacity).mentor_of.tolist() == [x, y, x, -1]
    optimal = solve_optimal(c, capacity)
    assert optimal.mentor_of.tolist() == [y, x, x, -1]
    assert optimal.objective == pytest.approx(2.35)
    assert optimal.pruning.loss_bound == 0
    # The stable matching is not optimal, so no dual can certify it.
    w = scaled(c.score)
    chosen = stable.mentor_of[c.mentee] == c.mentor
    refuted = _certificate(4, 2, c.mentee, c.mentor, w, chosen, capacity, int(w[chosen].sum()))
    assert not refuted.verified


def test_the_blocking_pair_count_finds_a_blocking_pair():
    """A matching that pairs the two people who both rank each other last, so it must count."""
    c = Candidates(
        n_mentees=2,
        n_mentors=2,
        mentee=np.array([0, 0, 1, 1], np.int32),
        mentor=np.array([0, 1, 0, 1], np.int32),
        score=np.array([0.9, 0.1, 0.2, 0.8], np.float32),
        k=2,
        pruned_best=np.full(2, -np.inf, np.float32),
    )
    capacity = np.array([1, 1])
    swapped = np.array([1, 0], np.int32)
    assert brute_force_blocking(c, swapped, capacity) == 2
    assert count_blocking_pairs(c, capacity, swapped) == 2
    stable = solve_stable(c, capacity)
    assert stable.mentor_of.tolist() == [0, 1]
    assert stable.blocking_pairs == 0


def test_no_one_is_matched_when_every_pair_is_worth_nothing_or_forbidden():
    dense = np.array([[0.0, -np.inf], [-np.inf, -np.inf], [0.0, 0.0]], np.float32)
    c = candidates_from_dense(dense, k=2)
    capacity = np.array([1, 1])
    for solve in (solve_optimal, solve_stable, solve_greedy):
        result = solve(c, capacity)
        assert result.objective == 0
        assert result.mentor_of[1] == -1
    assert solve_dense_exact(dense, capacity).objective == 0
    assert solve_dense_exact(np.full((3, 2), -np.inf), capacity).mentor_of.tolist() == [-1] * 3


def test_the_optimum_leaves_a_mentee_unmatched_when_matching_everyone_scores_less():
    """Max weight, not max cardinality: a-X alone (1.0) beats a-Y plus b-X (0.1 + 0.1)."""
    dense = np.array([[1.0, 0.1], [0.1, -np.inf]], np.float32)
    c = candidates_from_dense(dense, k=2)
    capacity = np.array([1, 1])
    optimal = solve_optimal(c, capacity)
    assert optimal.mentor_of.tolist() == [0, -1]
    assert optimal.objective == pytest.approx(1.0)
    assert solve_dense_exact(dense, capacity).mentor_of.tolist() == [0, -1]


def test_mentors_without_capacity_take_no_one():
    c = candidates_from_dense(random_dense(20, 4, seed=7, forbidden=0.0), k=4)
    capacity = np.array([0, 3, 0, 2])
    for solve in (solve_optimal, solve_stable, solve_greedy):
        load = solve(c, capacity).load(4)
        assert load[0] == load[2] == 0
        assert load.sum() == 5


@pytest.mark.parametrize("seed", range(15))
def test_the_pruning_bound_covers_the_optimum_over_all_pairs(seed):
    rng = np.random.default_rng(300 + seed)
    n, m = int(rng.integers(5, 40)), int(rng.integers(3, 12))
    full = random_dense(n, m, 300 + seed, forbidden=0.1)
    capacity = rng.integers(1, 4, m)
    best = solve_dense_exact(full, capacity).objective_scaled
    pruned = solve_optimal(candidates_from_dense(full, k=int(rng.integers(1, m))), capacity)
    assert (
        pruned.objective_scaled
        <= best
        <= pruned.objective_scaled + pruned.pruning.loss_bound_scaled
    )
    everything = solve_optimal(candidates_from_dense(full, k=m), capacity)
    assert everything.pruning.loss_bound_scaled == 0
    assert everything.objective_scaled == best


@pytest.mark.parametrize("seed", range(15))
def test_rescoring_makes_the_optimum_exact_over_all_pairs(seed):
    rng = np.random.default_rng(400 + seed)
    n, m = int(rng.integers(10, 60)), int(rng.integers(3, 15))
    full = random_dense(n, m, 400 + seed, forbidden=0.1)
    capacity = rng.integers(1, 4, m)
    c = candidates_from_dense(full, k=int(rng.integers(1, 3)))
    asked = []

    def rescore(rows):
        asked.extend(rows.tolist())
        return full[rows]

    result = solve_optimal(c, capacity, rescore=rescore)
    assert_valid(result, candidates_from_dense(full, k=m), capacity)
    assert result.objective_scaled == solve_dense_exact(full, capacity).objective_scaled
    assert result.pruning.loss_bound_scaled == 0
    assert result.certificate.verified
    assert len(asked) == len(set(asked)) == result.pruning.mentees_rescored
    # Within budget 0 nothing is rescored, and the bound is the plain one.
    plain = solve_optimal(c, capacity)
    capped = solve_optimal(c, capacity, rescore=rescore, rescore_budget=0)
    assert capped.pruning.mentees_rescored == 0
    assert capped.pruning.loss_bound_scaled == plain.pruning.loss_bound_scaled


def test_pruning_is_reported_against_the_full_graph():
    c = candidates_from_dense(random_dense(30, 10, seed=5, forbidden=0.0), k=4)
    pruning = solve_optimal(c, np.full(10, 2)).pruning
    assert (pruning.k, pruning.edges_kept, pruning.edges_full) == (4, 120, 300)


def test_the_objective_is_reported_scaled_and_as_a_float():
    c = candidates_from_dense(random_dense(25, 6, seed=11), k=6)
    optimal = solve_optimal(c, np.full(6, 3))
    assert (
        abs(optimal.objective - optimal.objective_scaled / SCALE) <= 0.5 * optimal.matched / SCALE
    )


def test_solvers_are_deterministic():
    c = candidates_from_dense(np.round(random_dense(50, 8, seed=3), 1), k=5)  # many ties
    capacity = np.full(8, 3)
    for solve in (solve_optimal, solve_stable, solve_greedy):
        first, second = solve(c, capacity), solve(c, capacity)
        assert first.mentor_of.tolist() == second.mentor_of.tolist()


@pytest.mark.parametrize(("n", "m"), [(0, 0), (3, 0), (0, 2), (2, 2)])
def test_empty_graphs_give_empty_assignments(n, m):
    c = candidates_from_dense(np.full((n, m), -np.inf, np.float32), k=2)
    capacity = np.ones(m, np.int64)
    for solve in (solve_optimal, solve_stable, solve_greedy):
        result = solve(c, capacity)
        assert result.mentor_of.tolist() == [-1] * n and result.objective == 0
    assert solve_optimal(c, capacity).certificate.verified


def test_capacity_must_match_the_mentors():
    c = candidates_from_dense(random_dense(3, 2, seed=1), k=2)
    with pytest.raises(ValueError):
        solve_optimal(c, np.array([1, 1, 1]))
    with pytest.raises(ValueError):
        solve_stable(c, np.array([1, -1]))


@pytest.mark.parametrize("tight", [1, optimal.TIGHT])
def test_later_flows_hold_only_nearly_tight_pairs_and_still_reach_the_optimum(monkeypatch, tight):
    """After the first flow, each flow holds only the pairs its predecessor's dual leaves uncovered
    or within TIGHT of tight: smaller than the first, however small TIGHT is, and pricing still
    brings in whatever the optimum needs."""
    c = random_candidates(3000, 500, k=20, seed=9)
    capacity = np.random.default_rng(9).integers(1, 6, 500)
    sizes: list[int] = []
    flow = optimal._flow

    def counted(n, m, mentee, *rest):
        sizes.append(len(mentee))
        return flow(n, m, mentee, *rest)

    monkeypatch.setattr(optimal, "_flow", counted)
    monkeypatch.setattr(optimal, "TIGHT", tight)
    result = solve_optimal(c, capacity)
    assert result.certificate.verified
    assert result.objective_scaled == solve_dense_exact(dense_of(c), capacity).objective_scaled
    assert len(sizes) > 1 and max(sizes[1:]) < sizes[0]


def test_random_candidates_are_shaped_like_top_k_candidates():
    c = random_candidates(500, 80, k=12, seed=4)
    assert (np.diff(c.mentee) >= 0).all()
    per_mentee = np.bincount(c.mentee, minlength=500)
    assert per_mentee.max() <= 12 and per_mentee.mean() > 10
    pairs = c.mentee.astype(np.int64) * 80 + c.mentor
    assert len(np.unique(pairs)) == len(pairs)
    assert ((c.score >= 0) & (c.score <= 1)).all()
    worst = np.full(500, np.inf, np.float32)
    np.minimum.at(worst, c.mentee, c.score)
    assert (c.pruned_best <= worst).all()
    again = random_candidates(500, 80, k=12, seed=4)
    assert np.array_equal(again.mentor, c.mentor) and np.array_equal(again.score, c.score)
    assert not np.array_equal(random_candidates(500, 80, k=12, seed=5).mentor, c.mentor)


def test_with_one_shared_score_the_stable_matching_is_the_greedy_one():
    """The best remaining pair is each side's first choice, so every stable matching contains it:
    the stable matching is unique and equals greedy. An independent check of deferred acceptance."""
    c = random_candidates(3000, 500, k=20, seed=8)
    capacity = np.random.default_rng(8).integers(1, 6, 500)
    stable, greedy = solve_stable(c, capacity), solve_greedy(c, capacity)
    assert stable.mentor_of.tolist() == greedy.mentor_of.tolist()
    assert stable.blocking_pairs == 0


def test_a_contested_cohort_is_solved_and_certified():
    c = random_candidates(3000, 500, k=20, seed=9)
    capacity = np.random.default_rng(9).integers(1, 6, 500)
    optimal, stable = solve_optimal(c, capacity), solve_stable(c, capacity)
    assert_valid(optimal, c, capacity)
    assert optimal.certificate.verified and optimal.certificate.gap_scaled == 0
    # The first flow saw only each mentor's short list; pricing brought in the rest it needed.
    assert optimal.pruning.rounds > 1
    assert optimal.objective_scaled == solve_dense_exact(dense_of(c), capacity).objective_scaled
    assert optimal.objective > stable.objective
    price = optimal.certificate.mentor_price
    assert (price[optimal.load(500) < capacity] == 0).all()  # only full mentors are "priced"
    assert (price > 0).any()


# --- synthetic cohorts ---------------------------------------------------------------------------


def test_a_cohort_is_the_same_for_the_same_seed_and_differs_for_another():
    first = generate_cohort(300, 60, seed=1)
    assert first == generate_cohort(300, 60, seed=1)
    other = generate_cohort(300, 60, seed=2)
    assert [p.person_id for p in first[0]] != [p.person_id for p in other[0]]
    assert [p.skills for p in first[0]] != [p.skills for p in other[0]]


def test_a_cohort_looks_like_a_real_program():
    mentees, mentors = generate_cohort(3000, 600, seed=3)
    people = mentees + mentors
    speaks_english = sum(any(t.startswith("en") for t in p.languages) for p in people)
    assert speaks_english / len(people) > 0.7
    first_languages = Counter(p.languages[0].split("-")[0] for p in people)
    assert 6 <= len(first_languages) <= 8
    assert first_languages.most_common(1)[0][0] == "en"
    zones = Counter(p.time_zone for p in people)
    assert 12 <= len(zones) <= 16
    assert all(ZoneInfo(z) for z in zones)
    assert zones.most_common(1)[0][0] == "America/New_York"
    assert (
        np.mean([m.seniority_level for m in mentors])
        > np.mean([p.seniority_level for p in mentees]) + 2
    )
    assert all(0 <= p.seniority_level <= 10 for p in people)
    assert Counter(m.capacity for m in mentors).keys() == {1, 2, 3, 4, 5}
    assert 0.15 < sum(p.manager_id is not None for p in mentees) / len(mentees) < 0.35
    assert 0 < sum(bool(p.declined_with) for p in mentees) < 60
    assert all(1 <= len(p.goals) <= 3 for p in mentees)
    for p in people:
        assert set(p.skills) <= set(SKILLS)
        assert set(p.skills.values()) <= {"beginner", "intermediate", "advanced", "expert"}
        for slot in p.availability:
            assert 0 <= slot.weekday <= 6 and "00:00" <= slot.start < slot.end <= "24:00"


def test_skill_demand_is_skewed_and_goals_name_skills_of_their_category():
    mentees, _ = generate_cohort(3000, 10, seed=4)
    named = Counter()
    for p in mentees:
        for goal in p.goals:
            words = [s for s in CATEGORIES[goal.category] if s in goal.description]
            assert words, goal
            named.update(words)
    counts = sorted(named.values(), reverse=True)
    assert counts[0] > 10 * counts[len(counts) // 2]  # Zipf: the top skill dwarfs the median
    held = Counter(s for p in mentees for s in p.skills)
    assert held.most_common(1)[0][1] > 5 * np.median(list(held.values()))


def test_a_generated_cohort_solves_end_to_end():
    mentees, mentors = generate_cohort(400, 80, seed=5)
    cohort = build_cohort(mentees, mentors, week_of=date(2026, 3, 2))
    capacity = cohort.capacity
    everything = top_candidates(cohort, k=80)
    dense = score_block(cohort, None, None, slice(None))
    optimal = solve_optimal(everything, capacity)
    assert optimal.pruning.loss_bound == 0
    assert optimal.objective_scaled == solve_dense_exact(dense, capacity).objective_scaled
    pruned = solve_optimal(top_candidates(cohort, k=5), capacity)
    assert pruned.certificate.verified
    assert pruned.objective_scaled <= optimal.objective_scaled
    assert optimal.objective_scaled <= pruned.objective_scaled + pruned.pruning.loss_bound_scaled
    stable = solve_stable(everything, capacity)
    assert stable.blocking_pairs == 0 and stable.objective <= optimal.objective
