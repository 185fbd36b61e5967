"""Reference solvers for tests and benchmarks: the greedy baseline and a dense exact optimum.

`solve_dense_exact` solves the same problem with the same integer weights as `solve_optimal`,
without any pruning, on the n_mentees x sum(capacity) matrix: what the optimum is checked against
where that matrix fits. `solve_greedy` is what a naive platform would do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linear_sum_assignment

from trellis_matching.engine.assignment import (
    Assignment,
    _capacity,
    _descending,
    _edges,
    _pair_scores,
    _preference_order,
    scaled,
)

if TYPE_CHECKING:
    from trellis_matching.engine.candidates import Candidates


def solve_greedy(c: Candidates, capacity: np.ndarray) -> Assignment:
    """The naive baseline: take pairs best-first while both sides have room."""
    capacity = _capacity(capacity, c.n_mentors)
    mentee, mentor, score = _edges(c)
    pref = _preference_order(mentee, mentor, score)
    order = pref[np.argsort(_descending(score[pref]), kind="stable")]
    room = capacity.tolist()
    mentor_of = [-1] * c.n_mentees
    left = c.n_mentees
    for i, j in zip(mentee[order].tolist(), mentor[order].tolist(), strict=True):
        if mentor_of[i] < 0 and room[j] > 0:
            mentor_of[i] = j
            room[j] -= 1
            left -= 1
            if left == 0:
                break
    assigned = np.asarray(mentor_of, np.int32)
    got = _pair_scores(c.n_mentees, mentee, mentor, score, assigned)
    return Assignment(
        mentor_of=assigned,
        objective=float(got.sum()),
        method="greedy",
        status="FEASIBLE",
        objective_scaled=int(scaled(got).sum()),
    )


def solve_dense_exact(score: np.ndarray, capacity: np.ndarray) -> Assignment:
    """Reference optimum: linear_sum_assignment over mentors repeated by capacity.

    Same problem and the same integer weights as `solve_optimal`, without any pruning. The
    "unmatched" option is worth 0, and every feasible pair is worth >= 0, so a forbidden (-inf)
    entry can stand as 0 and a mentee placed on one is read as unmatched: a rectangular assignment
    then fills min(rows, columns) without ever preferring a forbidden pair to a real one. This
    saves the n dummy columns and keeps the matrix at n_mentees x sum(capacity).
    """
    score = np.asarray(score)
    n, m = score.shape
    capacity = _capacity(capacity, m)
    columns = np.repeat(np.arange(m), capacity)
    feasible = np.isfinite(score)
    weight = np.where(feasible, scaled(np.where(feasible, score, 0.0)), 0).astype(np.float64)
    rows, cols = linear_sum_assignment(weight[:, columns], maximize=True)
    chosen_mentor = columns[cols]
    real = feasible[rows, chosen_mentor]
    mentor_of = np.full(n, -1, np.int32)
    mentor_of[rows[real]] = chosen_mentor[real]
    picked = score[rows[real], chosen_mentor[real]]
    return Assignment(
        mentor_of=mentor_of,
        objective=float(picked.astype(np.float64).sum()),
        method="dense_exact",
        status="OPTIMAL",
        objective_scaled=int(scaled(picked).sum()),
    )
