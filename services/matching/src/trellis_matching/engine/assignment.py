"""What every cohort solver returns, and the integer weights and edge helpers the solvers share.

Every solver (`optimal`, `stable`, `baselines`) returns an `Assignment`. Scores are floats in
[0, 1]; the exact solvers work on integer weights round(score * SCALE). The integer optimum is
exact; measured in float scores it is within 1e-6 per mentee of the float optimum (each weight
moves by at most 0.5e-6 when rounded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from trellis_matching.engine.candidates import Candidates
    from trellis_matching.engine.certificate import Certificate
    from trellis_matching.engine.pruning import PruningBound


SCALE = 1_000_000
"""Integer weight of a score: round(score * SCALE). float32 scores carry ~7 digits, so 1e-6 keeps
what they distinguish, and 100k mentees * 1e6 stays far inside int64 for the flow's costs."""


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
