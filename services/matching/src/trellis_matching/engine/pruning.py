"""What cutting the full mentee x mentor graph to the candidates could have cost, proved.

The certificate's dual, extended to every pair left out of the graph, is a dual of the full graph;
what the extension adds to the dual objective bounds how much more any assignment over all
feasible pairs could score (`PruningBound`). A bound of 0 proves the optimum over all pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from trellis_matching.engine.assignment import SCALE, scaled
from trellis_matching.engine.certificate import Certificate

if TYPE_CHECKING:
    from trellis_matching.engine.candidates import Candidates


@dataclass(frozen=True)
class PruningBound:
    """How the full mentee x mentor graph was cut to candidates, and what that could have cost.

    `loss_bound` is proved, not estimated: the certificate's dual, extended to every pair left out
    of the graph by raising mentee utilities just enough to cover them (prices stay), is a dual of
    the FULL graph; so optimum(all feasible pairs) <= objective + loss_bound. A left-out pair of
    mentee i scores at most pruned_best_i, or exactly what `rescore` said for a rescored mentee.
    0 proves the assignment optimal over all feasible pairs, not only the candidates.
    """

    k: int
    edges_kept: int  # candidate pairs the solver was given
    edges_full: int  # n_mentees * n_mentors, before hard constraints
    loss_bound: float
    loss_bound_scaled: int
    mentees_bounded: int  # mentees whose left-out pairs could still be worth more (carry loss)
    mentees_pruned_better: int  # mentees who got less than their best pruned-away pair
    mentees_rescored: int = 0  # mentees whose every pair was scored again to settle the bound
    pairs_added: int = 0  # left-out pairs that the rescoring brought into the graph
    rounds: int = 1  # flows solved (pricing and rescoring add rounds)


def _pruning(
    c: Candidates,
    mentee: np.ndarray,
    mentor: np.ndarray,
    got: np.ndarray,
    certificate: Certificate,
    known_rows: np.ndarray,
    known: np.ndarray,
    added: int,
    rounds: int,
) -> PruningBound:
    """Extend the verified dual to every pair outside the graph and price the extension.

    A pruned pair (i, j) scores at most pruned_best_i, and j is not among i's candidates, so it is
    covered once u_i >= pruned_best_i - q_i, where q_i is the cheapest price of a mentor outside
    i's candidates. A rescored mentee needs exactly u_i >= max_j (w_ij - p_j) over its real row.
    Raising each u_i that far yields a dual of the full graph; what the raises add to the dual
    objective bounds the optimum over all feasible pairs.
    """
    u, p = certificate.mentee_utility, certificate.mentor_price
    best = np.asarray(c.pruned_best, dtype=np.float64)
    has = np.isfinite(best)
    pruned_w = np.rint(np.where(has, best, 0.0) * SCALE).astype(np.int64)
    outside = _cheapest_outside(c.n_mentees, mentee, mentor, p)
    need = np.where(has, pruned_w - outside, 0)
    # Pairs in the graph are covered by the certificate, with the graph's own score (a rescored
    # float32 can differ from the candidate's in the last bit: it must not count as a loss).
    row_of = np.full(c.n_mentees, -1, np.int64)
    row_of[known_rows] = np.arange(len(known_rows))
    in_rows = row_of[mentee] >= 0
    graph_row, graph_col = row_of[mentee[in_rows]], mentor[in_rows]
    step = max(1, (1 << 22) // max(c.n_mentors, 1))
    for a in range(0, len(known_rows), step):
        rows = known_rows[a : a + step]
        block = known[a : a + step].copy()
        here = (graph_row >= a) & (graph_row < a + step)
        block[graph_row[here] - a, graph_col[here]] = -np.inf
        # float32 first (within 1 of exact); exact integers only for rows that may carry loss.
        rough = (block * np.float32(SCALE) - p.astype(np.float32)[None, :]).max(axis=1, initial=0)
        exact_rows = np.flatnonzero(rough > u[rows] - 2)
        sub = block[exact_rows]
        feasible = np.isfinite(sub)
        slack = np.where(feasible, scaled(np.where(feasible, sub, 0.0)) - p[None, :], 0)
        need[rows] = 0
        need[rows[exact_rows]] = slack.max(axis=1, initial=0)
    loss = np.maximum(need - u, 0)
    # Without a verified dual there is nothing to extend, so nothing is proved.
    bound = int(loss.sum()) if certificate.verified else None
    return PruningBound(
        k=int(c.k),
        edges_kept=len(c.mentee),
        edges_full=int(c.n_mentees) * int(c.n_mentors),
        loss_bound=bound / SCALE if bound is not None else float("inf"),
        loss_bound_scaled=bound if bound is not None else -1,
        mentees_bounded=int((loss > 0).sum()),
        mentees_pruned_better=int((has & (best > got)).sum()),
        mentees_rescored=len(known_rows),
        pairs_added=added,
        rounds=rounds,
    )


def _cheapest_outside(
    n: int, mentee: np.ndarray, mentor: np.ndarray, price: np.ndarray
) -> np.ndarray:
    """Per mentee, the lowest mentor price among mentors that are not its candidates.

    A mentee with d candidates finds one outside them among the d + 1 cheapest mentors, so only
    that prefix is looked at: an n x (max_d + 1) table of "is this cheap mentor my candidate".
    """
    m = len(price)
    if m == 0 or n == 0:
        return np.zeros(n, np.int64)
    degree = np.bincount(mentee, minlength=n)
    width = min(int(degree.max(initial=0)) + 1, m)
    cheap = np.argsort(price, kind="stable")[:width]
    slot = np.full(m, -1, np.int64)
    slot[cheap] = np.arange(width)
    taken = np.zeros((n, width), bool)
    inside = slot[mentor] >= 0
    taken[mentee[inside], slot[mentor[inside]]] = True
    free = ~taken
    first = free.argmax(axis=1)
    # A mentee who has every mentor as a candidate has nothing pruned; any value will do there.
    return np.where(free.any(axis=1), price[cheap[first]], 0)
