"""Each mentee's best k mentors, exactly, without holding the mentee x mentor matrix.

Mentees are scored in blocks. A block first scores a fixed random sample of mentors; the m-th best
sampled score (m chosen so that about 4(k + 1) mentors of the full row are expected to reach it)
becomes the row's threshold. The block then scores every mentor tile and keeps only the pairs at or
above the threshold, so a row's survivors are a few hundred instead of n_mentors. The result is
exact: if a row keeps at least k + 1 survivors, every pair it dropped scores below all of them; a
row that keeps fewer (an unlucky sample) is rescanned without a threshold.

Ties are broken by the lower mentor index, so the candidates are a deterministic function of the
cohort: each survivor is a uint64 key (score bits << 32 | ~mentor), and larger keys are better.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from trellis_matching.engine.features import Cohort
from trellis_matching.engine.score import (
    TILE,
    Prepared,
    Tile,
    Workspace,
    mentee_block,
    prepare,
    score_tile,
)

SAMPLE = 1024
"""Mentors scored first to set each row's threshold (when there are more than 2 * SAMPLE)."""
EXPECTED_SURVIVORS = 4
"""Survivors aimed for per row, in multiples of k + 1: a row falls short (and is rescanned) with
probability about 1e-4 at k = 50."""
_FLOOR = np.float32(np.finfo(np.float32).min)  # a threshold that keeps every feasible pair
_LOW32 = np.uint64(0xFFFFFFFF)


@dataclass(frozen=True)
class Candidates:
    """Sparse feasible pairs: for each mentee its best k mentors (fewer when fewer are feasible)."""

    n_mentees: int
    n_mentors: int
    mentee: np.ndarray  # int32 [E], sorted ascending (grouped by mentee)
    mentor: np.ndarray  # int32 [E]
    score: np.ndarray  # float32 [E] in [0, 1]
    k: int  # the pruning parameter used
    pruned_best: np.ndarray  # float32 [n_mentees]: best score among the pairs pruned away for that mentee (-inf if none) — lets the solver state a bound  # noqa: E501


def top_candidates(
    cohort: Cohort,
    weights: Any = None,
    constraints: Any = None,
    k: int = 50,
    block_rows: int = 2048,
    *,
    tile_cols: int = TILE,
    workers: int | None = None,
) -> Candidates:
    """The k best feasible mentors of every mentee (ordered by score within a mentee), and the
    best score each mentee lost to the pruning."""
    if k < 1:
        raise ValueError("k must be at least 1")
    prep = prepare(cohort, weights, constraints, tile=tile_cols)
    n_e, n_m = cohort.n_mentees, cohort.n_mentors
    keep = k + 1
    top = np.zeros((n_e, keep), np.uint64)  # per mentee its best k + 1 keys, descending; 0 = none
    if n_e and n_m:
        sample = None
        if n_m > 2 * SAMPLE:
            cols = np.sort(np.random.default_rng(0).choice(n_m, SAMPLE, replace=False))
            sample = prep.tile(cols.astype(np.int32))
        # Rows alike in goal terms, total weight and free intervals waste fewer gathers in a
        # block and share their scales (see score._add_scaled).
        order = np.lexsort(
            (np.diff(cohort.interval_ptr), prep.total_weight, np.diff(cohort.term_ptr))
        )
        blocks = [order[a : a + block_rows] for a in range(0, n_e, block_rows)]
        local = threading.local()

        def run(rows: np.ndarray) -> None:
            if not hasattr(local, "work"):
                local.work = Workspace()
            top[rows] = _block_top(prep, sample, rows, keep, local.work)

        workers = workers or min(len(os.sched_getaffinity(0)), len(blocks))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, blocks))

    best = top[:, :k]
    counts = (best > 0).sum(axis=1)
    keys = best[best > 0]  # row-major: grouped by mentee, best first
    return Candidates(
        n_mentees=n_e,
        n_mentors=n_m,
        mentee=np.repeat(np.arange(n_e, dtype=np.int32), counts),
        mentor=_mentor(keys),
        score=_score(keys),
        k=k,
        pruned_best=np.where(top[:, k] > 0, _score(top[:, k]), -np.inf).astype(np.float32),
    )


def _keys(scores: np.ndarray, mentors: np.ndarray) -> np.ndarray:
    # Feasible scores are >= 0, where float32 bit patterns order like the numbers; clipping also
    # turns a -0.0 into 0.0 and an ulp over 1 into 1.
    bits = np.clip(scores, 0, 1).astype(np.float32).view(np.uint32).astype(np.uint64)
    return (bits << np.uint64(32)) | (_LOW32 - mentors.astype(np.uint64))


def _score(keys: np.ndarray) -> np.ndarray:
    return (keys >> np.uint64(32)).astype(np.uint32).view(np.float32)


def _mentor(keys: np.ndarray) -> np.ndarray:
    return (_LOW32 - (keys & _LOW32)).astype(np.int32)


def _block_top(
    prep: Prepared, sample: Tile | None, rows: np.ndarray, keep: int, work: Workspace
) -> np.ndarray:
    """uint64 [R, keep]: the best keys of each row, descending, 0-padded."""
    if sample is None:
        return _dense_top(prep, rows, keep, work)
    block = mentee_block(prep, rows)
    r = len(rows)
    scores = work.get("out", r, sample.width)
    score_tile(prep, sample, block, scores, work)
    m = min(
        sample.width,
        math.ceil(EXPECTED_SURVIVORS * keep * sample.width / prep.cohort.n_mentors),
    )
    mth = np.partition(scores, sample.width - m, axis=1)[:, sample.width - m]
    # Fewer than m feasible in the sample (mth = -inf): keep every feasible pair of the row.
    threshold = np.where(np.isfinite(mth), mth, _FLOOR)

    found_rows, found_keys = [], []
    for tile in prep.tiles:
        scores = work.get("out", r, tile.width)
        score_tile(prep, tile, block, scores, work)
        mask = work.get("mask", r, tile.width, bool)
        np.greater_equal(scores, threshold[:, None], out=mask)
        # flatnonzero is an order of magnitude faster than a 2-D nonzero.
        row, col = np.divmod(np.flatnonzero(mask), tile.width)
        if len(row):
            found_rows.append(row)
            found_keys.append(_keys(scores[row, col], tile.cols[col]))
    row = np.concatenate(found_rows) if found_rows else np.zeros(0, np.int64)
    keys = np.concatenate(found_keys) if found_keys else np.zeros(0, np.uint64)
    top = _select(row, keys, r, keep)

    short = np.flatnonzero((top[:, -1] == 0) & (threshold > _FLOOR))
    for chunk in range(0, len(short), 256):  # the sample set the bar too high: rank whole rows
        some = short[chunk : chunk + 256]
        top[some] = _dense_top(prep, rows[some], keep, work)
    return top


def _dense_top(prep: Prepared, rows: np.ndarray, keep: int, work: Workspace) -> np.ndarray:
    """The best keys of whole rows (few mentors, or rows the sample misjudged)."""
    block = mentee_block(prep, rows)
    r = len(rows)
    keys = np.zeros((r, max(prep.cohort.n_mentors, keep)), np.uint64)
    for tile in prep.tiles:
        scores = work.get("out", r, tile.width)
        score_tile(prep, tile, block, scores, work)
        part = keys[:, tile.cols[0] : tile.cols[-1] + 1]
        np.copyto(part, _keys(scores, tile.cols[None, :]), where=scores > _FLOOR)
    if keys.shape[1] > keep:
        keys = np.partition(keys, keys.shape[1] - keep, axis=1)[:, -keep:]
    return np.sort(keys, axis=1)[:, ::-1]


def _select(row: np.ndarray, keys: np.ndarray, r: int, keep: int) -> np.ndarray:
    """The `keep` largest keys of each row, descending, 0-padded."""
    order = np.argsort(row, kind="stable")
    row, keys = row[order], keys[order]
    counts = np.bincount(row, minlength=r)
    position = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)
    out = np.zeros((r, keep), np.uint64)
    # Survivors rarely exceed a few hundred per row; heavy ties can make a row long, so rows
    # beyond `cap` take a slower path instead of widening the dense matrix for everyone.
    cap = 16 * keep
    width = int(min(counts.max(initial=0), cap))
    dense = np.zeros((r, max(width, keep)), np.uint64)
    short = counts[row] <= cap
    dense[row[short], position[short]] = keys[short]
    if dense.shape[1] > keep:
        dense = np.partition(dense, dense.shape[1] - keep, axis=1)[:, -keep:]
    out[:] = np.sort(dense, axis=1)[:, ::-1]
    for i in np.flatnonzero(counts > cap):
        mine = keys[row == i]
        out[i] = np.sort(np.partition(mine, len(mine) - keep)[-keep:])[::-1]
    return out
