"""Stable mode: mentee-proposing deferred acceptance with capacities, and blocking pairs.

Both sides rank their candidates by the pair score, with ties broken by index, so preferences are
strict and the result is deterministic. A blocking pair is a candidate pair whose two people would
both rather have each other than what they got; `count_blocking_pairs` counts them for any
assignment with the same preferences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from trellis_matching.engine.assignment import (
    Assignment,
    _capacity,
    _descending,
    _edges,
    _preference_order,
    scaled,
)

if TYPE_CHECKING:
    from trellis_matching.engine.candidates import Candidates


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
