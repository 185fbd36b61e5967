"""The proof of optimality on a graph: an LP dual of the assignment, verified in exact integers.

A dual (u, p) that covers every pair bounds every assignment (weak LP duality); when its objective
equals the assignment's, no assignment on the graph scores more, and since the bipartite
b-matching polytope is integral this holds for integer assignments too. The least dual consistent
with an assignment comes from complementary slackness (`_least_prices`); `_verify` trusts none of
that computation and checks the dual against every pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trellis_matching.engine.assignment import _ranges


@dataclass(frozen=True)
class Certificate:
    """LP dual (u, p) of the capacitated assignment on the candidate graph, verified in int64.

    u_i >= 0 per mentee, p_j >= 0 per mentor, u_i + p_j >= w_ij on every candidate pair. Any such
    pair of vectors bounds every assignment: sum(w) <= sum(u) + sum(capacity * p). When that bound
    equals the assignment's own objective, the assignment is optimal on the graph.
    """

    mentee_utility: np.ndarray  # int64 [n_mentees], scaled
    mentor_price: np.ndarray  # int64 [n_mentors], scaled
    dual_objective_scaled: int
    primal_objective_scaled: int
    verified: bool

    @property
    def gap_scaled(self) -> int:
        return self.dual_objective_scaled - self.primal_objective_scaled


def _certificate(
    n: int,
    m: int,
    mentee: np.ndarray,
    mentor: np.ndarray,
    w: np.ndarray,
    chosen: np.ndarray,
    capacity: np.ndarray,
    objective_scaled: int,
) -> Certificate:
    """A certificate for any assignment: it verifies only if the assignment is optimal."""
    utility, price, converged = _least_prices(n, m, mentee, mentor, w, chosen)
    return _verify(mentee, mentor, w, chosen, capacity, utility, price, objective_scaled, converged)


def _least_prices(
    n: int,
    m: int,
    mentee: np.ndarray,
    mentor: np.ndarray,
    w: np.ndarray,
    chosen: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The least mentor prices consistent with the assignment, and the mentee utilities they imply.

    Complementary slackness fixes u_i = w(i, its mentor) - p(its mentor), u_i = 0 if unmatched,
    and p_j = 0 for a mentor below capacity. Dual feasibility on the other pairs then reads as
    difference constraints p_j' >= p_j + w(i, j') - w(i, j) (i matched to j) and p_j' >= w(i, j')
    (i unmatched): a longest-path problem over mentors, solved by frontier relaxation. It converges
    exactly when the assignment is optimal (no positive cycle); `_verify` trusts none of this.
    """
    matched_w = np.zeros(n, np.int64)
    matched_w[mentee[chosen]] = w[chosen]
    mentor_of = np.full(n, -1, np.int64)
    mentor_of[mentee[chosen]] = mentor[chosen]
    owner = mentor_of[mentee]
    price = np.zeros(m, np.int64)
    free = (owner < 0) & ~chosen
    np.maximum.at(price, mentor[free], w[free])
    arcs = (owner >= 0) & ~chosen
    src, dst = owner[arcs], mentor[arcs].astype(np.int64)
    length = w[arcs] - matched_w[mentee[arcs]]
    order = np.argsort(src, kind="stable")
    src, dst, length = src[order], dst[order], length[order]
    indptr = np.searchsorted(src, np.arange(m + 1))
    frontier = np.arange(m)
    for _ in range(m + 1):
        if frontier.size == 0:
            break
        idx = _ranges(indptr[frontier], indptr[frontier + 1])
        before = price.copy()
        np.maximum.at(price, dst[idx], price[src[idx]] + length[idx])
        frontier = np.flatnonzero(price > before)
    utility = matched_w.copy()
    utility[mentor_of >= 0] -= price[mentor_of[mentor_of >= 0]]
    return utility, price, frontier.size == 0


def _verify(
    mentee: np.ndarray,
    mentor: np.ndarray,
    w: np.ndarray,
    chosen: np.ndarray,
    capacity: np.ndarray,
    utility: np.ndarray,
    price: np.ndarray,
    objective_scaled: int,
    converged: bool = True,
) -> Certificate:
    """Check a dual against every pair and the assignment, in exact integers."""
    load = np.bincount(mentor[chosen], minlength=len(price))
    dual = int(utility.sum() + (capacity * price).sum())
    verified = bool(
        converged
        and (load <= capacity).all()
        and len(np.unique(mentee[chosen])) == int(chosen.sum())
        and (utility >= 0).all()
        and (price >= 0).all()
        and (price[load < capacity] == 0).all()
        and (utility[mentee] + price[mentor] >= w).all()
        and dual == objective_scaled
    )
    return Certificate(utility, price, dual, objective_scaled, verified)
