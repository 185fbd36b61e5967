"""Maximum total score subject to capacities, exact on the candidate graph (min-cost flow).

The optimal assignment carries its own proof: a dual solution whose objective equals the
assignment's, so no assignment on the candidate graph can score more (`certificate`), and a bound
on what pruning the full graph to the candidates could have cost (`pruning`); with `rescore` that
bound is driven to 0, which proves the optimum over every feasible pair.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from ortools.graph.python import min_cost_flow

from trellis_matching.engine.assignment import (
    SCALE,
    Assignment,
    _capacity,
    _descending,
    _edges,
    scaled,
)
from trellis_matching.engine.certificate import _least_prices, _verify
from trellis_matching.engine.pruning import _cheapest_outside, _pruning

if TYPE_CHECKING:
    from trellis_matching.engine.candidates import Candidates


NEAR = 10_000
"""0.01 in score: how close to uncovered a left-out pair may be and still join the graph."""
TIGHT = 20_000
"""0.02 in score: after a flow whose dual leaves pairs uncovered, the next flow holds only the pairs
within this of tight (its own chosen pairs are exactly tight). Keeping the whole working set plus
the ~100 newly uncovered pairs instead took 0.159 s against 0.148 at 10k x 2k (medians of 15) and
5.5 s against 4.5 at 100k x 20k; the next flow had 14,000 pairs instead of 41,000."""
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
    candidates); every candidate pair is then priced against the flow's dual. While some are
    uncovered (w_ij > u_i + p_j, the only ones that could raise the optimum), the next flow solves
    the pairs that dual leaves uncovered or nearly tight (`TIGHT`), until none is left: a flow
    optimal on its pairs with a dual that covers every pair is optimal on all of them. At
    100k x 20k the first flow holds ~0.4M of the 5M pairs and one flow over all 5M took 7.5-9 s;
    the answer is the same optimum, proved on every candidate pair.

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
            in_flow = slack > -TIGHT
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


PER_SLOT, SPARE = 6, 5
"""The working set's size per seat, and beyond. With 6 rather than 8, the solve took 0.137 s
instead of 0.149 at 10k x 2k and 5.0 s instead of 6.2 at 100k x 20k (medians, same objective,
before `TIGHT`): the first flow is smaller, and its dual still leaves only ~100 pairs uncovered or
nearly so. With 5, 100k x 20k took longer again."""


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
