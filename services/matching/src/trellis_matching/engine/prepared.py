"""A cohort's scoring tables for one set of weights and constraints, cut into mentor tiles.

Codes of several factors are merged while the joint table stays small, and the weights, the
mentee's normaliser and the hard constraints (-inf) are folded into the tables. Skills and
availability keep their own per-mentor rows: the level at which each mentor offers each goal term,
and each mentor's cumulative free time. Mentor columns are cut into tiles so that the tables a
block gathers from stay in cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trellis_matching.engine.exclusions import Pairs
from trellis_matching.engine.factors import SATURATION_QUARTERS, Constraints, Weights
from trellis_matching.engine.features import Cohort
from trellis_matching.engine.tables import FactorTable, _applies_by_factor, _cached, factor_tables

JOINT_ROWS = 1024
"""Largest table built for a merged code; bounds memory at JOINT_ROWS * n_mentors * 4 bytes each."""
TILE = 1024
"""Mentor columns per tile: a tile of every table (a few thousand rows) stays in the L3 cache."""
NEG_INF = np.float32(-np.inf)
_Part = tuple[FactorTable, np.ndarray, np.ndarray]  # (factor, its row per joint code, scale)


@dataclass(frozen=True)
class _Group:
    """Several categorical factors merged into one code; row u of its table is the weighted sum of
    the factors' values for the u-th distinct combination, already divided by the mentee's total
    weight, with -inf where a constraint fails."""

    code: np.ndarray  # int32 [n_mentees]
    parts: tuple[_Part, ...]
    rows: int


@dataclass(frozen=True)
class Tile:
    """Every table restricted to some mentor columns, contiguous for fast row gathers."""

    cols: np.ndarray  # int32 sorted mentor indices
    joint: tuple[np.ndarray, ...]  # float32 [group rows, width]
    levels: np.ndarray | None  # uint8 [terms + 1, width]: offered level 0..4; last row zeros
    free_before: np.ndarray | None  # int16 [673, width]: the mentor's free quarters before t

    @property
    def width(self) -> int:
        return len(self.cols)


@dataclass(frozen=True, eq=False)
class Prepared:
    """A cohort's scoring tables for one set of weights and constraints."""

    cohort: Cohort
    weights: Weights
    constraints: Constraints
    total_weight: np.ndarray  # float32 [n_mentees]: sum of the weights of the factors that apply
    groups: tuple[_Group, ...]
    base: np.ndarray  # float32 [n_mentors]: -inf for mentors without capacity
    skill_scale: np.ndarray | None  # float32 [n_mentees]: w_skills / (W * 4 * number of terms)
    level_dtype: type  # holds the sum of a mentee's term levels
    avail_scale: np.ndarray | None  # float32 [n_mentees]: w_availability / (W * saturation)
    exclusions: Pairs
    exclusion_ptr: np.ndarray  # int64 [n_mentees + 1] into `exclusions`
    tiles: tuple[Tile, ...]

    def tile(self, cols: np.ndarray) -> Tile:
        """The tables for any set of mentor columns (sorted)."""
        c = self.cohort
        some = _columns(cols)
        joint = []
        for g_index, group in enumerate(self.groups):
            table = np.zeros((group.rows, len(cols)), np.float32)
            blocked = np.zeros((group.rows, len(cols)), bool)
            for factor, rows, scale in group.parts:
                if self.weights[factor.name] > 0:
                    table += _gather(factor.value, rows, some) * scale[:, None]
                if factor.violation is not None:
                    blocked |= _gather(factor.violation, rows, some)
            if g_index == 0:
                table += self.base[cols]
            table[blocked] = NEG_INF
            joint.append(table)
        levels = free_before = None
        if self.skill_scale is not None:
            levels = mentor_levels(c, cols, self.level_dtype)
        if self.avail_scale is not None:
            free_before = np.ascontiguousarray(c.mentor_free_before[some].T)
        return Tile(cols, tuple(joint), levels, free_before)


def _columns(cols: np.ndarray) -> np.ndarray | slice:
    """A slice when the columns are contiguous, as every tile's are: a (rows, slice) gather took a
    tenth of the time of np.ix_ at 10k x 2k."""
    if len(cols) and int(cols[-1]) - int(cols[0]) + 1 == len(cols):
        return slice(int(cols[0]), int(cols[-1]) + 1)
    return cols


def _gather(table: np.ndarray, rows: np.ndarray, cols: np.ndarray | slice) -> np.ndarray:
    return table[rows, cols] if isinstance(cols, slice) else table[np.ix_(rows, cols)]


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + n) for each (s, n)."""
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + (np.arange(total) - offsets)


def prepare(
    cohort: Cohort, weights: Any = None, constraints: Any = None, *, tile: int = TILE
) -> Prepared:
    """Scoring tables for these weights and constraints, cached on the cohort (the last two)."""
    w, k = Weights.of(weights), Constraints.of(constraints)
    return _cached(cohort, ("prepared", w, k, tile), lambda: _prepare(cohort, w, k, tile))


def _prepare(c: Cohort, w: Weights, k: Constraints, tile: int) -> Prepared:
    tables = factor_tables(c, k)
    n_terms = np.diff(c.term_ptr)
    n_intervals = np.diff(c.interval_ptr)
    applies = _applies_by_factor(tables)
    total = np.zeros(c.n_mentees, np.float64)
    for name, mask in applies.items():
        total += w[name] * mask
    total += w.skills * (n_terms > 0) + w.availability * (n_intervals > 0)
    inverse = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)

    used = [t for t in tables if w[t.name] > 0 or t.violation is not None]
    groups = _merge(used, inverse, w)

    skill_scale = avail_scale = None
    if w.skills > 0 and n_terms.any():
        skill_scale = (w.skills * inverse / (4 * np.maximum(n_terms, 1))).astype(np.float32)
    if w.availability > 0 and n_intervals.any():
        avail_scale = (w.availability * inverse / SATURATION_QUARTERS).astype(np.float32)

    parts = [c.same_person, c.declined, c.excluded]
    if k.exclude_reporting_line:
        parts += [c.mentor_manages, c.mentee_manages]
    exclusions = Pairs.union(parts)
    exclusion_ptr = np.searchsorted(exclusions.mentee, np.arange(c.n_mentees + 1)).astype(np.int64)

    prepared = Prepared(
        cohort=c,
        weights=w,
        constraints=k,
        total_weight=total.astype(np.float32),
        groups=groups,
        base=np.where(c.capacity > 0, 0, NEG_INF).astype(np.float32),
        skill_scale=skill_scale,
        level_dtype=np.uint8 if 4 * n_terms.max(initial=0) <= 255 else np.uint16,
        avail_scale=avail_scale,
        exclusions=exclusions,
        exclusion_ptr=exclusion_ptr,
        tiles=(),
    )
    cols = np.arange(c.n_mentors, dtype=np.int32)
    tiles = tuple(prepared.tile(cols[a : a + tile]) for a in range(0, c.n_mentors, tile))
    object.__setattr__(prepared, "tiles", tiles)
    return prepared


def _merge(used: list[FactorTable], inverse: np.ndarray, w: Weights) -> tuple[_Group, ...]:
    """Pack factor codes into as few joint codes of <= JOINT_ROWS values as first-fit-decreasing
    finds: each group costs one gather per tile. The mentee's normaliser 1/W is part of every
    joint code, so the tables can include it."""
    norms, norm_code = np.unique(inverse, return_inverse=True)
    start = (norm_code.reshape(-1), len(norms))
    packed: list[tuple[list[FactorTable], np.ndarray, int]] = []
    for table in sorted(used, key=lambda t: len(t.value), reverse=True):
        for g, (members, joint, rows) in enumerate(packed):
            candidate, count = _combine(joint, rows, table)
            if count <= JOINT_ROWS:
                packed[g] = ([*members, table], candidate, count)
                break
        else:
            packed.append(([table], *_combine(*start, table)))
    if not packed:
        packed.append(([], *start))

    out = []
    for members, joint, rows in packed:
        first = np.zeros(rows, np.int64)
        first[joint[::-1]] = np.arange(len(joint))[::-1]  # a mentee having each joint code
        parts = tuple(
            (t, t.code[first], (w[t.name] * inverse[first]).astype(np.float32)) for t in members
        )
        out.append(_Group(joint.astype(np.int32), parts, rows))
    return tuple(out)


def _combine(joint: np.ndarray, rows: int, table: FactorTable) -> tuple[np.ndarray, int]:
    """Dense codes of (joint, factor code) pairs, and how many occur."""
    key = joint.astype(np.int64) * len(table.value) + table.code
    present = np.zeros(rows * len(table.value), bool)
    present[key] = True
    return (np.cumsum(present) - 1)[key], int(present.sum())


def mentor_levels(cohort: Cohort, cols: np.ndarray, dtype: type = np.uint8) -> np.ndarray:
    """[terms + 1, len(cols)]: the level (1..4, 0 = not at all) at which each mentor offers each
    goal term; the last row is all zeros, the padding row."""
    c = cohort
    strength = np.zeros((len(c.terms) + 1, len(cols)), dtype)
    lo, hi = c.mentor_term_ptr[cols], c.mentor_term_ptr[cols + 1]
    counts = (hi - lo).astype(np.int64)
    entries = _ranges(lo, counts)
    strength[c.mentor_term_ids[entries], np.repeat(np.arange(len(cols)), counts)] = (
        c.mentor_term_level[entries]
    )
    return strength
