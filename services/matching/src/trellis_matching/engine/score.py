"""Pair scores for a block of mentees against every mentor, vectorised.

A pair's score is the weighted mean of its factors (`factors`), or -inf where a hard constraint
fails. Why it is fast: a block's scores are a few row gathers from the prepared tables
(`prepared`), plus one row of mentor skill levels per goal term, plus two rows of the mentors'
cumulative free time per free UTC interval of the mentee (overlap = free_before[end] -
free_before[start]), one mentor tile at a time, in reused buffers. The per-pair reference
(`breakdown`) in the tests keeps this honest.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from trellis_matching.engine.factors import SATURATION_QUARTERS
from trellis_matching.engine.features import Cohort
from trellis_matching.engine.prepared import NEG_INF, Prepared, Tile, _ranges, prepare


@dataclass(frozen=True)
class MenteeBlock:
    """The mentee side of a block of rows, padded so each gather handles one position at a time."""

    rows: np.ndarray  # int64 mentee indices
    joint: tuple[np.ndarray, ...]  # per group: the rows' codes
    terms: np.ndarray  # int32 [P, R]: the p-th goal term of each row (padding: the zero row)
    term_from: tuple[int, ...]  # per position p: the first row that has a p-th term
    skill_scale: np.ndarray | None
    skill_runs: tuple[tuple[int, int, np.float32], ...] | None
    starts: np.ndarray  # int16 [Q, R]: the q-th free UTC interval of each row (padding: 0..0)
    ends: np.ndarray
    interval_from: tuple[int, ...]
    avail_scale: np.ndarray | None
    avail_runs: tuple[tuple[int, int, np.float32], ...] | None
    excluded_row: np.ndarray  # positions in the block
    excluded_mentor: np.ndarray


def _padded(
    ptr: np.ndarray, values: np.ndarray, rows: np.ndarray, pad: int
) -> tuple[np.ndarray, tuple[int, ...]]:
    counts = ptr[rows + 1] - ptr[rows]
    width = int(counts.max(initial=0))
    out = np.full((width, len(rows)), pad, values.dtype)
    out.T[np.arange(width)[None, :] < counts[:, None]] = values[_ranges(ptr[rows], counts)]
    # Rows usually come sorted by count, so "from the first row with a p-th entry" wastes little.
    first = tuple(int(np.argmax(counts > p)) for p in range(width))
    return out, first


def mentee_block(prep: Prepared, rows: np.ndarray) -> MenteeBlock:
    c = prep.cohort
    rows = np.asarray(rows, np.int64)
    terms, term_from = _padded(c.term_ptr, c.term_ids, rows, len(c.terms))
    starts, interval_from = _padded(c.interval_ptr, c.interval_start, rows, 0)
    ends, _ = _padded(c.interval_ptr, c.interval_end, rows, 0)
    counts = prep.exclusion_ptr[rows + 1] - prep.exclusion_ptr[rows]
    skill_scale = None if prep.skill_scale is None else prep.skill_scale[rows]
    avail_scale = None if prep.avail_scale is None else prep.avail_scale[rows]
    return MenteeBlock(
        rows=rows,
        joint=tuple(g.code[rows] for g in prep.groups),
        terms=terms,
        term_from=term_from,
        skill_scale=skill_scale,
        skill_runs=_runs(skill_scale),
        starts=starts,
        ends=ends,
        interval_from=interval_from,
        avail_scale=avail_scale,
        avail_runs=_runs(avail_scale),
        excluded_row=np.repeat(np.arange(len(rows)), counts),
        excluded_mentor=prep.exclusions.mentor[_ranges(prep.exclusion_ptr[rows], counts)],
    )


def _runs(scale: np.ndarray | None) -> tuple[tuple[int, int, np.float32], ...] | None:
    """Ranges of rows sharing one scale, or None when there are too many to loop over."""
    if scale is None:
        return None
    change = np.flatnonzero(scale[1:] != scale[:-1]) + 1
    if len(change) > 32:
        return None
    bounds = [0, *change.tolist(), len(scale)]
    return tuple((a, b, scale[a]) for a, b in pairwise(bounds))


def _add_scaled(
    out: np.ndarray,
    counts: np.ndarray,
    scale: np.ndarray,
    runs: tuple[tuple[int, int, np.float32], ...] | None,
    buf: np.ndarray,
) -> None:
    """out += counts * scale[:, None]. Rows sorted by scale come in a few runs, and a scalar
    multiply per run is several times faster than broadcasting a column."""
    if runs is None:
        np.multiply(counts, scale[:, None], out=buf)
    else:
        np.copyto(buf, counts)
        for a, b, s in runs:
            buf[a:b] *= s
    out += buf


class Workspace:
    """Scratch buffers reused across tiles (one per thread): no allocation in the inner loop."""

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, np.dtype], np.ndarray] = {}

    def get(self, name: str, rows: int, width: int, dtype: Any = np.float32) -> np.ndarray:
        key = (name, np.dtype(dtype))
        flat = self._buffers.get(key)
        if flat is None or flat.size < rows * width:
            flat = self._buffers[key] = np.empty(rows * width, dtype)
        return flat[: rows * width].reshape(rows, width)


def score_tile(
    prep: Prepared, tile: Tile, block: MenteeBlock, out: np.ndarray, work: Workspace
) -> None:
    """Scores of the block's rows against the tile's mentors, written into out [R, width]."""
    r, width = len(block.rows), tile.width
    buf = work.get("buf", r, width)
    np.take(tile.joint[0], block.joint[0], axis=0, out=out, mode="clip")
    for table, code in zip(tile.joint[1:], block.joint[1:], strict=True):
        np.take(table, code, axis=0, out=buf, mode="clip")
        out += buf

    if tile.levels is not None and block.term_from:
        # Levels are small integers: summing them in uint8 moves a quarter of float32's bytes.
        acc = work.get("levels", r, width, tile.levels.dtype)
        spare = work.get("levels_spare", r, width, tile.levels.dtype)
        for p, first in enumerate(block.term_from):
            if p == 0:
                acc[:first] = 0
                np.take(tile.levels, block.terms[0, first:], axis=0, out=acc[first:], mode="clip")
            else:
                np.take(tile.levels, block.terms[p, first:], axis=0, out=spare[first:], mode="clip")
                acc[first:] += spare[first:]
        _add_scaled(out, acc, block.skill_scale, block.skill_runs, buf)

    if tile.free_before is not None and block.interval_from:
        # Quarter-hour counts are small integers: int16 halves the memory traffic of float32.
        overlap = work.get("overlap", r, width, np.int16)
        spare = work.get("spare", r, width, np.int16)
        for q, first in enumerate(block.interval_from):
            ends, starts = block.ends[q, first:], block.starts[q, first:]
            if q == 0:
                overlap[:first] = 0
                np.take(tile.free_before, ends, axis=0, out=overlap[first:], mode="clip")
            else:
                np.take(tile.free_before, ends, axis=0, out=spare[first:], mode="clip")
                overlap[first:] += spare[first:]
            np.take(tile.free_before, starts, axis=0, out=spare[first:], mode="clip")
            overlap[first:] -= spare[first:]
        # A broadcast row, not a scalar: numpy's SIMD minimum needs contiguous operands.
        np.minimum(overlap, np.full(width, SATURATION_QUARTERS, np.int16), out=overlap)
        _add_scaled(out, overlap, block.avail_scale, block.avail_runs, buf)

    if len(block.excluded_row):
        pos = np.minimum(np.searchsorted(tile.cols, block.excluded_mentor), width - 1)
        hit = tile.cols[pos] == block.excluded_mentor
        out[block.excluded_row[hit], pos[hit]] = NEG_INF


def score_block(
    cohort: Cohort, weights: Any, constraints: Any, mentee_rows: slice | np.ndarray
) -> np.ndarray:
    """float32 [rows, n_mentors]: each pair's weighted mean of factors in [0, 1], or -inf where a
    hard constraint fails."""
    prep = prepare(cohort, weights, constraints)
    rows = np.arange(cohort.n_mentees)[mentee_rows]
    block = mentee_block(prep, rows)
    out = np.empty((len(rows), cohort.n_mentors), np.float32)
    work = Workspace()
    for tile in prep.tiles:
        part = work.get("out", len(rows), tile.width)
        score_tile(prep, tile, block, part, work)
        out[:, tile.cols[0] : tile.cols[-1] + 1] = part
    np.minimum(out, 1, out=out)  # float32 sums of parts can overshoot 1 by an ulp
    return out
