"""Cohort assignment on the candidate graph: exact optimum, stable, greedy, dense reference.

Every solver returns an `Assignment`. The optimal one carries its own proof: a dual solution whose
objective equals the assignment's, so no assignment on the candidate graph can score more (weak LP
duality; the bipartite b-matching polytope is integral), and a bound on what pruning the full graph
to the candidates could have cost; with `rescore` that bound is driven to 0, which proves the
optimum over every feasible pair.

Scores are floats in [0, 1]; the exact solvers work on integer weights round(score * SCALE). The
integer optimum is exact; measured in float scores it is within 1e-6 per mentee of the float
optimum (each weight moves by at most 0.5e-6 when rounded).

This file is past the ~300 lines the style guide suggests; the solvers share their preference and
pricing helpers, and the interface names this one module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy.optimize import linear_sum_assignment

if TYPE_CHECKING:
    from trellis_matching.engine.candidates import Candidates

SCALE = 1_000_000
"""Integer weight of a score: round(score * SCALE). float32 scores carry ~7 digits, so 1e-6 keeps
what they distinguish, and 100k mentees * 1e6 stays far inside int64 for the flow's costs."""
NEAR = 10_000
"""0.01 in score: how close to uncovered a left-out pair may be and still join the graph."""


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


@dataclass(frozen=True)
class Assignment:
    mentor_of: np.ndarray  # int32 [n_mentees], -1 = unmatched
    objective: float  # total score of the chosen pairs
    method: str
    status: str  # OPTIMAL for the exact solvers, FEASIBLE otherwise
    objective_scaled: int | None = None  # sum of round(score * SCALE) over the chosen pairs
    certificate: Certificate | None = None
    pruning: PruningBound | None = None
    blocking_pairs: int | None = None  # stable mode: pairs on the candidate graph that block

    @property
    def matched(self) -> int:
        return int((self.mentor_of >= 0).sum())

    def load(self, n_mentors: int) -> np.ndarray:
        return np.bincount(self.mentor_of[self.mentor_of >= 0], minlength=n_mentors)


def scaled(score: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(score, dtype=np.float64) * SCALE).astype(np.int64)


Rescore = Callable[[np.ndarray], np.ndarray]
"""Mentee rows -> float32 [len(rows), n_mentors]: every pair's score, -inf where infeasible."""


def solve_optimal(
    c: Candidates,
    capacity: np.ndarray,
    *,
    rescore: Rescore | None = None,
    rescore_budget: int = 1 << 26,
    max_rounds: int = 12,
) -> Assignment:
    """Maximum total score subject to capacities, exact on the candidate graph (min-cost flow).

    The flow first sees only each mentor's best pairs (`_working_set`, about a tenth of the
    candidates); every other candidate pair is then priced against the flow's dual, and the ones
    it leaves uncovered (w_ij > u_i + p_j, the only ones that could raise the optimum) join the
    flow, until none is left. At 100k x 20k that was two flows over ~0.5M pairs in 3.5-4 s,
    where one flow over all 5M took 7.5-9 s; the answer is the same optimum, proved on every
    candidate pair.

    With `rescore`, exact over ALL feasible pairs too: the mentees whose pruning bound is positive
    are scored against every mentor and their pairs are priced the same way, so the bound ends at
    0. The rescored rows are kept (float32) up to `rescore_budget` pairs; past it the bound stays
    as far as it got.
    """
    capacity = _capacity(capacity, c.n_mentors)
    n, m = c.n_mentees, c.n_mentors
    mentee, mentor, score = _edges(c)  # every pair the solver knows; rescoring adds more
    w = scaled(score)
    in_flow = _working_set(mentor, score, capacity, m)
    best = np.asarray(c.pruned_best, np.float64)
    has = np.isfinite(best)
    pruned_w = np.where(has, np.rint(np.where(has, best, 0.0) * SCALE), -1).astype(np.int64)
    known_rows = np.empty(0, np.int64)  # rescored mentees, and their full rows
    known = np.empty((0, m), np.float32)
    added = 0
    for rounds in range(1, max_rounds + 1):
        if rounds == max_rounds:
            in_flow[:] = True  # the last round solves everything known, whatever pricing said
        flow_edges = np.flatnonzero(in_flow)
        chosen_in_flow, u, p, converged = _flow(
            n, m, mentee[flow_edges], mentor[flow_edges], w[flow_edges], capacity
        )
        if not converged or rounds == max_rounds:
            break
        slack = w - u[mentee] - p[mentor]
        if (slack > 0).any():
            in_flow |= slack > -NEAR
            continue
        if rescore is None:
            break
        need = pruned_w - _cheapest_outside(n, mentee, mentor, p)
        need[known_rows] = -1  # these are judged on their real rows below
        unsettled = np.flatnonzero(need > u)
        if len(unsettled) and (len(known_rows) + len(unsettled)) * m <= rescore_budget:
            known_rows = np.concatenate([known_rows, unsettled])
            known = np.concatenate([known, _rescored(rescore, unsettled, m)])
        rows, cols, scores, strict = _uncovered(known_rows, known, u, p, mentee, mentor, m)
        if not strict:
            break
        added += len(rows)
        mentee = np.concatenate([mentee, rows.astype(np.int32)])
        mentor = np.concatenate([mentor, cols.astype(np.int32)])
        score = np.concatenate([score, scores])
        w = np.concatenate([w, scaled(scores)])
        in_flow = np.concatenate([in_flow, np.ones(len(rows), bool)])
    chosen = np.zeros(len(mentee), bool)
    chosen[flow_edges[chosen_in_flow]] = True
    objective_scaled = int(w[chosen].sum())
    certificate = _verify(mentee, mentor, w, chosen, capacity, u, p, objective_scaled, converged)
    mentor_of = np.full(n, -1, np.int32)
    mentor_of[mentee[chosen]] = mentor[chosen]
    got = np.zeros(n, np.float64)
    got[mentee[chosen]] = score[chosen]
    return Assignment(
        mentor_of=mentor_of,
        objective=float(score[chosen].astype(np.float64).sum()),
        method="optimal",
        status="OPTIMAL" if certificate.verified else "UNVERIFIED",
        objective_scaled=objective_scaled,
        certificate=certificate,
        pruning=_pruning(c, mentee, mentor, got, certificate, known_rows, known, added, rounds),
    )


PER_SLOT, SPARE = 8, 5


def _working_set(mentor: np.ndarray, score: np.ndarray, capacity: np.ndarray, m: int) -> np.ndarray:
    """bool per pair: among its mentor's best PER_SLOT * capacity + SPARE pairs (ties kept).

    A mentor's seats go to mentees near the top of its own list, so this small graph usually has
    the candidate graph's optimum, and its dual prices the rest. The flow's time grows with the
    mentees it holds, and most of the unmatched ones are in no mentor's short list.
    """
    if len(mentor) == 0:
        return np.zeros(0, bool)
    key = (mentor.astype(np.int64) << 32) | _descending(score)  # smaller is better
    ordered = np.sort(key)
    degree = np.bincount(mentor, minlength=m)
    start = np.cumsum(degree) - degree
    limit = np.minimum(np.where(capacity > 0, PER_SLOT * capacity + SPARE, 0), degree)
    worst_kept = np.where(limit > 0, ordered[np.maximum(start + limit - 1, 0)], -1)
    return key <= worst_kept[mentor]


def _flow(
    n: int,
    m: int,
    mentee: np.ndarray,
    mentor: np.ndarray,
    w: np.ndarray,
    capacity: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """The optimal pairs of one graph (bool per edge) and its least dual (u [n], p [m]).

    source -> mentee (cap 1), mentee -> mentor (cap 1, cost -w), mentor -> sink (cap capacity),
    and one source -> sink bypass (cap mentees, cost 0) that carries the unmatched mentees. All
    units must reach the sink, so the flow is always feasible, and since the bypass costs what an
    unmatched mentee is worth (0), the optimum is max-weight, not max-cardinality. (The bypass was
    ~15% faster at 100k x 20k than a zero-cost "unmatched" arc per mentee.) Only mentees with an
    edge get a node: at 100k x 20k the flow's time followed the node count more than the edges.
    """
    present, local = np.unique(mentee, return_inverse=True)
    local = local.astype(np.int32)
    k, e = len(present), len(mentee)
    source, sink = k + m, k + m + 1
    tails = np.concatenate(
        [local, np.full(k, source, np.int32), k + np.arange(m, dtype=np.int32), [source]]
    ).astype(np.int32)
    heads = np.concatenate(
        [k + mentor, np.arange(k, dtype=np.int32), np.full(m, sink, np.int32), [sink]]
    ).astype(np.int32)
    caps = np.concatenate([np.ones(e + k, np.int64), capacity, [k]]).astype(np.int64)
    costs = np.concatenate([-w, np.zeros(k + m + 1, np.int64)])
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    flow.set_nodes_supplies(np.array([source, sink], np.int32), np.array([k, -k], np.int64))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow ended with status {status}")
    chosen = flow.flows(np.arange(e, dtype=np.int32)) > 0
    del flow
    local_u, price, converged = _least_prices(k, m, local, mentor, w, chosen)
    utility = np.zeros(n, np.int64)
    utility[present] = local_u
    return chosen, utility, price, converged


def _rescored(rescore: Rescore, rows: np.ndarray, m: int) -> np.ndarray:
    out = np.asarray(rescore(rows), np.float32)
    if out.shape != (len(rows), m):
        raise ValueError(f"rescore returned shape {out.shape}, expected {(len(rows), m)}")
    return out


def _uncovered(
    known_rows: np.ndarray,
    known: np.ndarray,
    u: np.ndarray,
    p: np.ndarray,
    mentee: np.ndarray,
    mentor: np.ndarray,
    m: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Pairs (mentee, mentor, score) of the rescored rows that are feasible, not in the graph,
    and nearly or not covered by the dual (w_ij > u_i + p_j - NEAR), and whether any is strictly
    uncovered; in chunks, so the int64 weights of all rows never exist at once.

    Only strictly uncovered pairs can raise the optimum, but prices move when the flow is solved
    again: taking the nearly uncovered ones too saved a round at 10k x 2k (3 flows -> 2).
    """
    in_graph = np.sort(mentee.astype(np.int64) * m + mentor)
    found_rows, found_cols, found_scores = [], [], []
    strict = False
    step = max(1, (1 << 22) // max(m, 1))
    for a in range(0, len(known_rows), step):
        rows = known_rows[a : a + step]
        block = known[a : a + step]
        # float32 s * SCALE is within 0.1 of the exact product and the covers (< 2^24) are exact
        # in float32, so this keeps every pair whose rounded weight can exceed the cover minus
        # NEAR (an infeasible -inf never does); the exact integer check follows on those alone.
        bar = (u[rows] - NEAR - 1).astype(np.float32)[:, None] + p.astype(np.float32)[None, :]
        r, j = np.nonzero(block * np.float32(SCALE) > bar)
        exact = scaled(block[r, j]) - (u[rows[r]] + p[j] - NEAR)
        r, j, exact = r[exact > 0], j[exact > 0], exact[exact > 0]
        key = rows[r] * m + j
        at = np.minimum(np.searchsorted(in_graph, key), max(len(in_graph) - 1, 0))
        fresh = in_graph[at] != key if len(in_graph) else np.ones(len(key), bool)
        strict |= bool((exact[fresh] > NEAR).any())
        found_rows.append(rows[r][fresh])
        found_cols.append(j[fresh])
        found_scores.append(block[r[fresh], j[fresh]])
    if not found_rows:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32), False
    rows, cols, scores = (np.concatenate(x) for x in (found_rows, found_cols, found_scores))
    return rows, cols, scores, strict


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


def solve_stable(c: Candidates, capacity: np.ndarray) -> Assignment:
    """Mentee-proposing deferred acceptance with capacities (hospital-resident), in parallel rounds.

    Every free mentee proposes to its next candidate at once; each mentor keeps its best `capacity`
    proposals among those it holds and the new ones. Simultaneous proposals give the same
    mentee-optimal stable matching as one-at-a-time (McVitie & Wilson). Both sides rank by the pair
    score; ties go to the lower mentor index (mentee side) and the lower mentee index (mentor side),
    so preferences are strict and the result is deterministic.
    """
    capacity = _capacity(capacity, c.n_mentors)
    n = c.n_mentees
    mentee, mentor, score, start, mentor_rank, edge_of_rank = _preferences(c)
    nxt = start[:-1].copy()
    held = np.empty(0, np.int64)  # edges currently held, as mentor ranks
    holding = np.zeros(n, bool)
    while True:
        free = np.flatnonzero(~holding & (nxt < start[1:]))
        if free.size == 0:
            break
        proposals = nxt[free]
        nxt[free] += 1
        pool = np.sort(np.concatenate([held, mentor_rank[proposals]]))
        edges = edge_of_rank[pool]
        owner = mentor[edges]
        first = np.searchsorted(owner, owner)  # owner is sorted: index of its group's start
        keep = np.arange(len(pool)) - first < capacity[owner]
        held = pool[keep]
        holding[:] = False
        holding[mentee[edge_of_rank[held]]] = True
    chosen_edges = edge_of_rank[held]
    mentor_of = np.full(n, -1, np.int32)
    mentor_of[mentee[chosen_edges]] = mentor[chosen_edges]
    blocking = _blocking_pairs(
        n, c.n_mentors, mentee, mentor, start, mentor_rank, chosen_edges, capacity
    )
    return Assignment(
        mentor_of=mentor_of,
        objective=float(score[chosen_edges].astype(np.float64).sum()),
        method="stable",
        status="FEASIBLE",
        objective_scaled=int(scaled(score[chosen_edges]).sum()),
        blocking_pairs=blocking,
    )


def count_blocking_pairs(c: Candidates, capacity: np.ndarray, mentor_of: np.ndarray) -> int:
    """Blocking pairs of any assignment on the candidate graph, with `solve_stable`'s preferences
    (e.g. to check another implementation, or to say how unstable the optimal assignment is)."""
    capacity = _capacity(capacity, c.n_mentors)
    mentee, mentor, _, start, mentor_rank, _ = _preferences(c)
    mentor_of = np.asarray(mentor_of)
    chosen = np.flatnonzero(mentor_of[mentee] == mentor)
    if len(chosen) != int((mentor_of >= 0).sum()):
        raise ValueError("the assignment uses pairs that are not candidates")
    return _blocking_pairs(
        c.n_mentees, c.n_mentors, mentee, mentor, start, mentor_rank, chosen, capacity
    )


def _preferences(c: Candidates) -> tuple[np.ndarray, ...]:
    """Both sides' strict preferences over the candidate pairs.

    Returns the edges (mentee, mentor, score) in mentee-preference order (grouped by mentee, best
    first), each mentee's segment start, each edge's mentor rank (one global key: smaller is
    preferred, comparable within a mentor), and the edge of each mentor rank.
    """
    mentee, mentor, score = _edges(c)
    pref = _preference_order(mentee, mentor, score)
    mentee, mentor, score = mentee[pref], mentor[pref], score[pref]
    start = np.searchsorted(mentee, np.arange(c.n_mentees + 1))
    # Edges are now in mentee order, so a stable sort leaves score ties to the lower mentee.
    by_mentor = np.argsort((mentor.astype(np.int64) << 32) | _descending(score), kind="stable")
    mentor_rank = np.empty(len(mentee), np.int64)
    mentor_rank[by_mentor] = np.arange(len(mentee))
    return mentee, mentor, score, start, mentor_rank, by_mentor


def _blocking_pairs(
    n: int,
    m: int,
    mentee: np.ndarray,
    mentor: np.ndarray,
    start: np.ndarray,
    mentor_rank: np.ndarray,
    chosen: np.ndarray,
    capacity: np.ndarray,
) -> int:
    """Candidate pairs (i, j) where i prefers j to its lot and j has room or prefers i to its worst.

    Edges are in mentee-preference order, so an edge's offset in its mentee's segment is its rank.
    Counted with the same strict (tie-broken) preferences the algorithm used; a pair that blocks
    by score alone also blocks these, so 0 here means 0 by score too.
    """
    e = len(mentee)
    mentee_rank = np.arange(e) - start[mentee]
    current = np.full(n, np.iinfo(np.int64).max)
    current[mentee[chosen]] = mentee_rank[chosen]
    load = np.bincount(mentor[chosen], minlength=m)
    worst = np.full(m, -1, np.int64)
    np.maximum.at(worst, mentor[chosen], mentor_rank[chosen])
    wants = mentee_rank < current[mentee]
    welcome = (load[mentor] < capacity[mentor]) | (mentor_rank < worst[mentor])
    return int((wants & welcome).sum())


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


def _edges(c: Candidates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mentee = np.asarray(c.mentee, np.int32)
    mentor = np.asarray(c.mentor, np.int32)
    score = np.asarray(c.score, np.float32)
    feasible = np.isfinite(score)
    if not feasible.all():
        mentee, mentor, score = mentee[feasible], mentor[feasible], score[feasible]
    return mentee, mentor, score


def _descending(score: np.ndarray) -> np.ndarray:
    """An int64 key that sorts float32 scores >= 0 best first (their bits are monotone there)."""
    bits = (np.asarray(score, np.float32) + np.float32(0)).view(np.uint32)  # + 0 turns -0 into 0
    return np.int64(0x7FFFFFFF) - bits.astype(np.int64)


def _preference_order(mentee: np.ndarray, mentor: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Edges by mentee, then score descending, then mentor: two stable integer sorts, as
    np.lexsort over a float key took seconds at 5M edges."""
    by_mentor = np.argsort(mentor, kind="stable")
    key = (mentee[by_mentor].astype(np.int64) << 32) | _descending(score[by_mentor])
    return by_mentor[np.argsort(key, kind="stable")]


def _capacity(capacity: np.ndarray, n_mentors: int) -> np.ndarray:
    capacity = np.asarray(capacity, np.int64)
    if capacity.shape != (n_mentors,):
        raise ValueError(f"capacity has shape {capacity.shape}, expected ({n_mentors},)")
    if (capacity < 0).any():
        raise ValueError("capacity must be >= 0")
    return capacity


def _pair_scores(
    n: int, mentee: np.ndarray, mentor: np.ndarray, score: np.ndarray, mentor_of: np.ndarray
) -> np.ndarray:
    """Score of each mentee's assigned pair (0 when unmatched), looked up among the candidates."""
    got = np.zeros(n, np.float32)
    hit = mentor_of[mentee] == mentor
    got[mentee[hit]] = score[hit]
    return got


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenated aranges [starts[0], ends[0]) + [starts[1], ends[1]) + ..., vectorised."""
    counts = ends - starts
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, np.int64)
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return np.arange(total) + offsets
