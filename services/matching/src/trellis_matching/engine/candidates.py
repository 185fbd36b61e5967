"""Each mentee's best k mentors, exactly, without holding the mentee x mentor matrix.

Mentees are scored in blocks. A block first scores a fixed random sample of mentors; the m-th best
sampled score (m chosen so that about 4(k + 1) mentors of the full row are expected to reach it)
becomes the row's threshold. The block then scores every mentor tile and keeps only the pairs at or
above the threshold, so a row's survivors are a few hundred instead of n_mentors. The result is
exact: if a row keeps at least k + 1 survivors, every pair it dropped scores below all of them; a
row that keeps fewer (an unlucky sample) is rescanned without a threshold.

Ties go to the lower mentor index (survivors are `topk` keys), so the candidates are a
deterministic function of the cohort.

With `mentor_k`, each mentor's best `mentor_k` mentees join the candidates too, found in the same
pass the same way: a sample of mentees sets each column's threshold, every tile keeps the pairs at
or above it (keys score bits << 32 | ~mentee, ties to the lower mentee index), and a running top
per mentor is merged block by block; a column that keeps fewer than `mentor_k` is rescanned. When
capacity is scarce, mentors fill up with mentees outside those mentees' own top-k, and these pairs
are the ones the optimum needs.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from trellis_matching.engine.features import Cohort
from trellis_matching.engine.prepared import TILE, Prepared, Tile, prepare
from trellis_matching.engine.score import Workspace, mentee_block, score_tile
from trellis_matching.engine.topk import ColumnSurvivors, index_of, keys_of, score_of, select_top

SAMPLE = 1024
"""Mentors scored first to set each row's threshold (when there are more than 2 * SAMPLE)."""
EXPECTED_SURVIVORS = 4
"""Survivors aimed for per row, in multiples of k + 1: a row falls short (and is rescanned) with
probability about 1e-4 at k = 50."""
BAR_COLUMNS_PER_KEEP = 10
"""A whole row's bar (`_dense_top`) is the keep-th best of this many times `keep` of its columns:
partitioning all 2,000 columns of a 2,000-row block took 46 ms, 510 of them 6 ms, and the ~4x as
many survivors (~200 a row) cost 15 ms more to rank."""
_FLOOR = np.float32(np.finfo(np.float32).min)  # a threshold that keeps every feasible pair


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
    mentor_k: int = 0  # each mentor's best mentor_k mentees were added (0: none)


def top_candidates(
    cohort: Cohort,
    weights: Any = None,
    constraints: Any = None,
    k: int = 50,
    block_rows: int = 2048,
    *,
    mentor_k: int = 20,
    tile_cols: int = TILE,
    workers: int | None = None,
) -> Candidates:
    """The k best feasible mentors of every mentee, united with the `mentor_k` best feasible
    mentees of every mentor (ordered by score, then mentor, within a mentee), and the best score
    each mentee lost to the pruning."""
    if k < 1:
        raise ValueError("k must be at least 1")
    if mentor_k < 0:
        raise ValueError("mentor_k must be at least 0")
    prep = prepare(cohort, weights, constraints, tile=tile_cols)
    n_e, n_m = cohort.n_mentees, cohort.n_mentors
    keep = k + 1
    top = np.zeros((n_e, keep), np.uint64)  # per mentee its best k + 1 keys, descending; 0 = none
    # Per mentor its best mentor_k keys (score bits << 32 | ~mentee), unordered; 0 = none.
    col_top = np.zeros((n_m, mentor_k), np.uint64)
    col_count = np.zeros(n_m, np.int64)  # pairs at or above the column's threshold
    col_threshold = None
    if n_e and n_m:
        sample = None
        if (cols := _fixed_subset(n_m, SAMPLE, seed=0)) is not None:
            sample = prep.tile(cols.astype(np.int32))
        # Rows alike in goal terms, total weight and free intervals waste fewer gathers in a
        # block and share their scales (see score._add_scaled).
        order = np.lexsort(
            (np.diff(cohort.interval_ptr), prep.total_weight, np.diff(cohort.term_ptr))
        )
        # Blocks in a multiple of the workers, evenly sized: 5 blocks on 2 cores left one idle
        # for a fifth of the pass.
        cores = workers or len(os.sched_getaffinity(0))
        count = -(-max(1, -(-n_e // block_rows)) // cores) * cores
        size = -(-n_e // count)
        blocks = [order[a : a + size] for a in range(0, n_e, size)]
        local = threading.local()
        lock = threading.Lock()

        def run(rows: np.ndarray) -> None:
            if not hasattr(local, "work"):
                local.work = Workspace()
            top[rows], columns = _block_top(prep, sample, rows, keep, local.work, col_threshold)
            if columns is not None:
                col, keys = columns
                mine = select_top(col, keys, n_m, mentor_k)
                with lock:
                    col_count[:] += np.bincount(col, minlength=n_m)
                    both = np.concatenate([col_top, mine], axis=1)
                    col_top[:] = np.partition(both, mentor_k, axis=1)[:, mentor_k:]

        with ThreadPoolExecutor(max_workers=min(cores, len(blocks))) as pool:
            if mentor_k:
                col_threshold = _column_thresholds(prep, mentor_k, pool)
            list(pool.map(run, blocks))
        if mentor_k:
            # The sample set a column's bar too high: rank the whole column.
            short = np.flatnonzero((col_count < mentor_k) & (col_threshold > _FLOOR))
            if len(short):
                col_top[short] = _dense_columns(prep, short, mentor_k, block_rows)

    best = top[:, :k]
    counts = (best > 0).sum(axis=1)
    keys = best[best > 0]  # row-major: grouped by mentee, best first
    mentee = np.repeat(np.arange(n_e, dtype=np.int32), counts)
    mentor, score = index_of(keys), score_of(keys)
    pruned_best = np.where(top[:, k] > 0, score_of(top[:, k]), -np.inf).astype(np.float32)
    if mentor_k and n_e and n_m:
        extra = col_top > 0
        extra_mentor = np.nonzero(extra)[0].astype(np.int32)  # ascending
        extra_mentee = index_of(col_top[extra])  # the same ~index decoding, of mentees here
        # The pair's key on the mentee's side: it is among the mentee's top k exactly when it is
        # at least the k-th key (a mentee with fewer than k has every feasible pair already).
        own = keys_of(score_of(col_top[extra]), extra_mentor)
        new = own < top[extra_mentee, k - 1]
        # pruned_best must stay the best score of a pair OUTSIDE the candidates. Everything a
        # mentee lost ranks below its (k+1)-th pair, so while that pair stays outside, its score
        # is exactly the best lost one. When a mentor adds it, the best lost pair lies further
        # down, beyond what was kept: those rows (79 of 10k at 10k x 2k) are scored in full and
        # their best pair outside the union is taken.
        added = np.unique(extra_mentee[new & (own == top[extra_mentee, k])])
        extra_mentee, extra_mentor, own = extra_mentee[new], extra_mentor[new], own[new]
        # Merge into the mentee-sorted list: by (mentee, score desc, mentor asc). An added pair
        # ranks below every top-k pair of its mentee, so it goes after them; the extras are
        # sorted by (mentee, key desc) among themselves.
        order = np.lexsort((~own, extra_mentee))
        extra_mentee, extra_mentor, own = extra_mentee[order], extra_mentor[order], own[order]
        at = np.searchsorted(mentee, extra_mentee, side="right")
        mentee = np.insert(mentee, at, extra_mentee)
        mentor = np.insert(mentor, at, extra_mentor)
        score = np.insert(score, at, score_of(own))
        if len(added):
            pruned_best[added] = _best_outside(prep, added, mentee, mentor, block_rows)
    return Candidates(
        n_mentees=n_e,
        n_mentors=n_m,
        mentee=mentee,
        mentor=mentor,
        score=score,
        k=k,
        pruned_best=pruned_best,
        mentor_k=mentor_k,
    )


def _column_thresholds(prep: Prepared, mentor_k: int, pool: ThreadPoolExecutor) -> np.ndarray:
    """float32 [n_mentors]: a bar per mentor that about EXPECTED_SURVIVORS * mentor_k of its
    column reach, from a sample of mentees (every mentee, and then exact, when they are few)."""
    n_e = prep.cohort.n_mentees
    if (rows := _fixed_subset(n_e, SAMPLE, seed=1)) is not None:
        # At 100k mentees the proportional rank is 1, and a column falls short (then a full
        # column rescan) whenever the sample's best is among its top mentor_k: ~18% of columns
        # at mentor_k = 20. From the 4th best sampled score on, that is ~1e-4.
        m = min(SAMPLE, max(4, math.ceil(EXPECTED_SURVIVORS * mentor_k * SAMPLE / n_e)))
    else:
        rows, m = np.arange(n_e), min(n_e, mentor_k)
    block = mentee_block(prep, rows)
    threshold = np.empty(prep.cohort.n_mentors, np.float32)

    def run(tile: Tile) -> None:  # the tiles side by side: this pass is a tenth of the whole
        scores = np.empty((len(rows), tile.width), np.float32)
        score_tile(prep, tile, block, scores, Workspace())
        threshold[tile.cols] = np.partition(scores, len(rows) - m, axis=0)[len(rows) - m]

    list(pool.map(run, prep.tiles))
    # Fewer than m feasible in the sample (-inf): keep every feasible pair of the column.
    return np.where(np.isfinite(threshold), threshold, _FLOOR)


def _all_rows(prep: Prepared, rows: np.ndarray, tile: Tile, work: Workspace) -> np.ndarray:
    """float32 [len(rows), tile.width]: the scores of these rows against the tile's columns."""
    block = mentee_block(prep, rows)
    scores = np.empty((len(rows), tile.width), np.float32)
    score_tile(prep, tile, block, scores, work)
    return scores


def _dense_columns(prep: Prepared, cols: np.ndarray, mentor_k: int, block_rows: int) -> np.ndarray:
    """uint64 [len(cols), mentor_k]: each column's best keys, ranked over every mentee."""
    tile = prep.tile(cols.astype(np.int32))
    work = Workspace()
    best = np.zeros((len(cols), mentor_k), np.uint64)
    for a in range(0, prep.cohort.n_mentees, block_rows):
        rows = np.arange(a, min(a + block_rows, prep.cohort.n_mentees))
        scores = _all_rows(prep, rows, tile, work)
        keys = np.where(scores > _FLOOR, keys_of(scores, rows[:, None]), 0).T
        both = np.concatenate([best, keys], axis=1)
        best = np.partition(both, both.shape[1] - mentor_k, axis=1)[:, -mentor_k:]
    return best


def _best_outside(
    prep: Prepared, rows: np.ndarray, mentee: np.ndarray, mentor: np.ndarray, block_rows: int
) -> np.ndarray:
    """float32 [len(rows)]: each row's best feasible score outside its candidates (-inf if none)."""
    n_m = prep.cohort.n_mentors
    start = np.searchsorted(mentee, rows)
    end = np.searchsorted(mentee, rows, side="right")
    work = Workspace()
    out = np.empty(len(rows), np.float32)
    step = max(1, min(block_rows, (1 << 22) // max(n_m, 1)))
    for a in range(0, len(rows), step):
        some = rows[a : a + step]
        block = mentee_block(prep, some)
        scores = np.empty((len(some), n_m), np.float32)
        for tile in prep.tiles:
            part = work.get("out", len(some), tile.width)
            score_tile(prep, tile, block, part, work)
            scores[:, tile.cols] = part
        lo, hi = start[a : a + step], end[a : a + step]
        mine = np.concatenate(
            [np.arange(s, e, dtype=np.int64) for s, e in zip(lo, hi, strict=True)]
        )
        scores[np.repeat(np.arange(len(some)), hi - lo), mentor[mine]] = -np.inf
        best = scores.max(axis=1, initial=-np.inf)
        out[a : a + step] = np.where(best > _FLOOR, np.clip(best, 0, 1), -np.inf)
    return out


def _block_top(
    prep: Prepared,
    sample: Tile | None,
    rows: np.ndarray,
    keep: int,
    work: Workspace,
    col_threshold: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """uint64 [R, keep]: the best keys of each row, descending, 0-padded; with `col_threshold`,
    also (column, key) of every pair at or above its column's threshold (keys name mentees)."""
    if sample is None:
        return _dense_top(prep, rows, keep, work, col_threshold)
    block = mentee_block(prep, rows)
    r = len(rows)
    scores = work.get("out", r, sample.width)
    score_tile(prep, sample, block, scores, work)
    # When the sample is a large part of the row, its own `keep` best already guarantee `keep`
    # survivors: no rescan can happen, and a row keeps about keep * n_mentors / sample pairs
    # instead of EXPECTED_SURVIVORS * keep (half as many at 10k x 2k).
    m = min(
        sample.width,
        keep,
        math.ceil(EXPECTED_SURVIVORS * keep * sample.width / prep.cohort.n_mentors),
    )
    mth = np.partition(scores, sample.width - m, axis=1)[:, sample.width - m]
    # Fewer than m feasible in the sample (mth = -inf): keep every feasible pair of the row.
    threshold = np.where(np.isfinite(mth), mth, _FLOOR)

    found_rows, found_keys = [], []
    columns = ColumnSurvivors(rows, col_threshold)
    for tile in prep.tiles:
        scores = work.get("out", r, tile.width)
        score_tile(prep, tile, block, scores, work)
        mask = work.get("mask", r, tile.width, bool)
        np.greater_equal(scores, threshold[:, None], out=mask)
        # flatnonzero is an order of magnitude faster than a 2-D nonzero.
        row, col = np.divmod(np.flatnonzero(mask), tile.width)
        if len(row):
            found_rows.append(row)
            found_keys.append(keys_of(scores[row, col], tile.cols[col]))
        columns.add(tile, scores, work)
    row = np.concatenate(found_rows) if found_rows else np.zeros(0, np.int64)
    keys = np.concatenate(found_keys) if found_keys else np.zeros(0, np.uint64)
    top = select_top(row, keys, r, keep)

    short = np.flatnonzero((top[:, -1] == 0) & (threshold > _FLOOR))
    for chunk in range(0, len(short), 256):  # the sample set the bar too high: rank whole rows
        some = short[chunk : chunk + 256]
        top[some] = _dense_top(prep, rows[some], keep, work)[0]
    return top, columns.result()


def _dense_top(
    prep: Prepared,
    rows: np.ndarray,
    keep: int,
    work: Workspace,
    col_threshold: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The best keys of whole rows (few mentors, or rows the sample misjudged).

    Each row's bar is the keep-th best score of some of its columns, found on the float32 scores;
    only the pairs at or above it become keys. Keying every pair and ranking the uint64 keys took
    twice as long at 10k x 2k: twice the bytes to partition, and 40 keys built per survivor.
    """
    block = mentee_block(prep, rows)
    r, n_m = len(rows), prep.cohort.n_mentors
    scores = work.get("row", r, n_m)
    columns = ColumnSurvivors(rows, col_threshold)
    for tile in prep.tiles:
        part = work.get("out", r, tile.width)
        score_tile(prep, tile, block, part, work)
        scores[:, tile.cols[0] : tile.cols[-1] + 1] = part
        columns.add(tile, part, work)
    if n_m > keep:
        # The keep-th best of a fixed subset of the columns: at least `keep` pairs of the row
        # reach it, so the row's best `keep` are among the pairs at or above it, as with the
        # row's own keep-th best, and no row is ever rescanned.
        subset = _fixed_subset(n_m, BAR_COLUMNS_PER_KEEP * keep, seed=2)
        some = scores if subset is None else scores[:, subset]
        width = some.shape[1]
        bar = np.partition(some, width - keep, axis=1)[:, width - keep]
        # Fewer than `keep` feasible (bar = -inf): every feasible pair of the row survives.
        threshold = np.where(np.isfinite(bar), bar, _FLOOR)
    else:
        threshold = np.full(r, _FLOOR, np.float32)
    mask = work.get("mask", r, n_m, bool)
    np.greater_equal(scores, threshold[:, None], out=mask)
    row, col = np.divmod(np.flatnonzero(mask), n_m)
    top = select_top(row, keys_of(scores[row, col], col), r, keep, grouped=True)
    return top, columns.result()


@functools.lru_cache(maxsize=64)
def _fixed_subset(n: int, size: int, *, seed: int) -> np.ndarray | None:
    """`size` of `range(n)`, ascending, the same on every call (the sampled rows and columns, the
    columns of a whole row's bar); None when that is at least half of them: use them all."""
    if n <= 2 * size:
        return None
    subset = np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
    subset.flags.writeable = False  # one array for every caller
    return subset
