"""Pair scores for a block of mentees against every mentor, vectorised.

Every factor is a number in [0, 1] per mentee-mentor pair. A pair's score is the mean of the
factors weighted by the program's weights, over the factors that apply to the mentee (a mentee who
states no goals is not scored on goals); a hard constraint makes it -inf.

Why it is fast: apart from skills and availability, a factor depends on the mentee only through a
small code (its UTC offset, its language set, its seniority ...), so it is a table [codes, mentors]
computed once. Codes of several factors are merged while the joint table stays small, and the
weights, the mentee's normaliser and the hard constraints (-inf) are folded into the tables. A
block's scores are then a few row gathers from those tables, plus one row of mentor skill levels
per goal term, plus two rows of the mentors' cumulative free time per free UTC interval of the
mentee (overlap = free_before[end] - free_before[start]). Mentor columns are cut into tiles so the
tables a block gathers from stay in cache. The per-pair reference in the tests keeps this honest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Any

import numpy as np

from trellis_matching.engine.features import QUARTER_MINUTES, Cohort, Pairs, normalize

FACTORS = (
    "skills",
    "goals",
    "availability",
    "language",
    "time_zone",
    "seniority",
    "industry",
    "preferences",
    "style",
)
CONSTRAINTS = (
    "same_person",
    "no_capacity",
    "no_shared_language",
    "time_zone_too_far",
    "seniority_gap_too_small",
    "reporting_line",
    "declined",
    "excluded",
)
SATURATION_QUARTERS = 8
"""Two hours a week of shared free time is enough for a mentorship; more adds nothing."""
TIME_ZONE_ZERO_MINUTES = 12 * 60
JOINT_ROWS = 1024
"""Largest table built for a merged code; bounds memory at JOINT_ROWS * n_mentors * 4 bytes each."""
TILE = 1024
"""Mentor columns per tile: a tile of every table (a few thousand rows) stays in the L3 cache."""
NEG_INF = np.float32(-np.inf)


@dataclass(frozen=True)
class Weights:
    skills: float = 1.0
    goals: float = 1.0
    availability: float = 1.0
    language: float = 1.0
    time_zone: float = 1.0
    seniority: float = 1.0
    industry: float = 1.0
    preferences: float = 1.0
    style: float = 1.0  # MatchingWeights has no `style` yet; it takes the contract's common default

    @classmethod
    def of(cls, weights: Any = None) -> Weights:
        """From a Weights, a MatchingWeights model, a mapping, or None (all 1)."""
        if isinstance(weights, cls):
            return weights
        values = {f.name: _read(weights, f.name, f.default) for f in fields(cls)}
        for name, value in values.items():
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"weight {name} must be a finite number >= 0, not {value}")
        return cls(**{k: float(v) for k, v in values.items()})

    def __getitem__(self, name: str) -> float:
        return getattr(self, name)


@dataclass(frozen=True)
class Constraints:
    shared_language_required: bool = True
    max_time_zone_difference_hours: float | None = None
    exclude_reporting_line: bool = True
    min_seniority_gap: int = 0

    @classmethod
    def of(cls, constraints: Any = None) -> Constraints:
        """From a Constraints, a MatchingConstraints model, a mapping, or None (defaults)."""
        if isinstance(constraints, cls):
            return constraints
        return cls(**{f.name: _read(constraints, f.name, f.default) for f in fields(cls)})


def _read(source: Any, name: str, default: Any) -> Any:
    if source is None:
        return default
    if isinstance(source, Mapping):
        return source.get(name, default)
    return getattr(source, name, default)


# --- factor definitions (shared with the explanations) ----------------------------------------


def seniority_fit(gap: Any) -> np.ndarray:
    """1 for a mentor 2-4 levels more senior, 0.5 for 1 level, fading to 0 at 8; 0 if not senior."""
    gap = np.asarray(gap, np.float32)
    fade = np.clip(1 - (gap - 4) / 4, 0, 1)
    return np.where(gap <= 0, 0, np.where(gap < 2, 0.5, np.where(gap <= 4, 1, fade))).astype(
        np.float32
    )


def time_zone_distance(a: Any, b: Any) -> np.ndarray:
    """Minutes between two UTC offsets around the clock: +13 and -10 are 1 h apart, not 23."""
    d = np.abs(np.asarray(a, np.int32) - np.asarray(b, np.int32)) % 1440
    return np.minimum(d, 1440 - d)


def time_zone_fit(distance_minutes: Any) -> np.ndarray:
    """1 at the same offset, falling linearly to 0 at 12 h apart."""
    d = np.asarray(distance_minutes, np.float32)
    return np.clip(1 - d / TIME_ZONE_ZERO_MINUTES, 0, 1).astype(np.float32)


_STYLE_PAIRS = {
    ("hands on", "coaching"),
    ("hands on", "directive"),
    ("visual", "directive"),
    ("visual", "coaching"),
    ("auditory", "sounding board"),
    ("auditory", "coaching"),
    ("reading", "directive"),
    ("reading", "sounding board"),
}


def style_fit(learning: str, mentoring: str | None) -> float:
    """How a mentoring style suits a learning style: a product heuristic, kept deliberately mild
    (no pair is a mismatch, 0.5) so that it orders candidates without overruling real factors."""
    if mentoring is None:
        return 0.0
    learning, mentoring = normalize(learning), normalize(mentoring)
    if "mixed" in (learning, mentoring) or (learning, mentoring) in _STYLE_PAIRS:
        return 1.0
    return 0.5


# --- per-factor tables ------------------------------------------------------------------------


@dataclass(frozen=True)
class FactorTable:
    """A categorical factor, or one additive part of one: value[code(mentee), mentor]. The last
    row is for mentees who state nothing this factor can use."""

    name: str
    code: np.ndarray  # int32 [n_mentees]
    value: np.ndarray  # float32 [rows, n_mentors]
    applies: np.ndarray  # bool [rows]
    violation: np.ndarray | None = None  # bool [rows, n_mentors]
    constraint: str | None = None


def _any_of(matrix: np.ndarray, sets: tuple[frozenset[int], ...], n_mentors: int) -> np.ndarray:
    out = np.zeros((len(sets) + 1, n_mentors), np.float32)
    for s, members in enumerate(sets):
        out[s] = matrix[sorted(members)].any(axis=0)
    return out


def _stated(code: np.ndarray, rows: int) -> np.ndarray:
    return np.where(code < 0, rows - 1, code).astype(np.int32)


def _applies(rows: int) -> np.ndarray:
    return np.arange(rows) < rows - 1


def _joint_codes(a: np.ndarray, b: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Distinct (a, b) pairs of two optional codes (-1 = not stated) and each mentee's row; the
    mentees stating neither get the last row."""
    pairs, code = np.unique(np.stack([a, b], axis=1).astype(np.int64), axis=0, return_inverse=True)
    code = code.reshape(-1)
    neither = (pairs[:, 0] < 0) & (pairs[:, 1] < 0)
    pairs = pairs[~neither]
    remap = np.cumsum(~neither) - 1
    remap[neither] = len(pairs)
    return (pairs[:, 0], pairs[:, 1]), remap[code].astype(np.int32)


def factor_tables(cohort: Cohort, constraints: Constraints) -> list[FactorTable]:
    """The categorical factors' tables (everything but skills and availability); a factor may
    be the sum of several parts, which share its name."""
    return _cached(cohort, ("tables", constraints), lambda: _factor_tables(cohort, constraints))


def _cached(cohort: Cohort, key: tuple, make: Any) -> Any:
    """Per-cohort memo keeping the two most recent entries of each kind: tables are large, and a
    program rarely alternates between more than two settings."""
    if key not in cohort.cache:
        for old in [k for k in cohort.cache if k[0] == key[0]][:-1]:
            del cohort.cache[old]
        cohort.cache[key] = make()
    return cohort.cache[key]


def _factor_tables(c: Cohort, k: Constraints) -> list[FactorTable]:
    n_m = c.n_mentors
    tables = []

    value = _any_of(c.mentor_languages, c.language_sets, n_m)
    tables.append(
        FactorTable(
            "language",
            _stated(c.mentee_language_set, len(value)),
            value,
            _applies(len(value)),
            violation=(value == 0) if k.shared_language_required else None,
            constraint="no_shared_language",
        )
    )

    offsets, code = np.unique(c.mentee_offset, return_inverse=True)
    distance = time_zone_distance(offsets[:, None], c.mentor_offset[None, :])
    value = np.vstack([time_zone_fit(distance), np.zeros((1, n_m), np.float32)])
    too_far = None
    if k.max_time_zone_difference_hours is not None:
        too_far = np.vstack(
            [distance > k.max_time_zone_difference_hours * 60, np.zeros((1, n_m), bool)]
        )
    tables.append(
        FactorTable(
            "time_zone",
            code.astype(np.int32).reshape(-1),
            value,
            _applies(len(value)),
            violation=too_far,
            constraint="time_zone_too_far",
        )
    )

    levels, code = np.unique(c.mentee_seniority, return_inverse=True)
    known = levels >= 0
    mentor_known = c.mentor_seniority >= 0
    gap = c.mentor_seniority[None, :].astype(np.int32) - levels[known, None]
    value = np.zeros((known.sum() + 1, n_m), np.float32)
    value[:-1] = np.where(mentor_known, seniority_fit(gap), 0)
    code = np.where(known[code], code - (~known).sum(), len(value) - 1).astype(np.int32)
    too_small = None
    if k.min_seniority_gap > 0:
        too_small = np.ones_like(value, bool)
        too_small[:-1] = ~mentor_known | (gap < k.min_seniority_gap)
    tables.append(
        FactorTable(
            "seniority",
            code.reshape(-1),
            value,
            _applies(len(value)),
            violation=too_small,
            constraint="seniority_gap_too_small",
        )
    )

    # Industry and function are each a part of the factor (half each when both are stated), so
    # free-text values multiply nothing: each part has a row per value a mentor also has.
    both = (c.mentee_industry >= 0) & (c.mentee_function >= 0)
    tables.append(_match_part("industry", c.mentee_industry, c.mentor_industry, both))
    tables.append(_match_part("industry", c.mentee_function, c.mentor_function, both))

    fit = np.array(
        [
            [style_fit(s, m) for m in c.mentoring_styles] + [0.0]  # last: mentor states none
            for s in c.learning_styles
        ],
        np.float32,
    ).reshape(len(c.learning_styles), len(c.mentoring_styles) + 1)
    channels = _any_of(c.mentor_channels, c.channel_sets, n_m)
    (learning, channel_set), code = _joint_codes(c.mentee_learning_style, c.mentee_channel_set)
    value = np.zeros((len(learning) + 1, n_m), np.float32)
    for u, (ls, cs) in enumerate(zip(learning, channel_set, strict=True)):
        parts = [fit[ls][c.mentor_mentoring_style]] if ls >= 0 else []  # -1: the "none" column
        parts += [channels[cs]] if cs >= 0 else []
        value[u] = np.mean(parts, axis=0) if parts else 0
    tables.append(
        FactorTable("style", code, value, np.append((learning >= 0) | (channel_set >= 0), False))
    )

    tables.append(_share("goals", c.category_sets, c.mentor_categories, c.mentee_category_set))
    tables.append(
        _share("preferences", c.preference_sets, c.mentor_offers, c.mentee_preference_set)
    )
    return tables


def _match_part(
    name: str, mentee: np.ndarray, mentor: np.ndarray, halved: np.ndarray
) -> FactorTable:
    """Equality of one optional code (-1 = not stated), worth 1/2 where `halved` else 1."""
    stated = mentee >= 0
    matched = np.where(np.isin(mentee, mentor[mentor >= 0]), mentee, -2)  # -2: nobody has it
    key = (matched.astype(np.int64) + 2) * 2 + halved
    keys, code = np.unique(key[stated], return_inverse=True)
    value = np.zeros((len(keys) + 1, len(mentor)), np.float32)
    for u, kv in enumerate(keys.tolist()):
        if kv // 2 - 2 >= 0:
            value[u] = (mentor == kv // 2 - 2) * (0.5 if kv % 2 else 1.0)
    full = np.full(len(mentee), len(keys), np.int32)
    full[stated] = code.reshape(-1)
    return FactorTable(name, full, value, _applies(len(value)))


def _share(
    name: str, sets: tuple[frozenset[int], ...], has: np.ndarray, mentee: np.ndarray
) -> FactorTable:
    """The share of a mentee's set the mentor has (has: bool [values, n_mentors]). Values no
    mentor has only count in the denominator, so sets differing only in those share a row."""
    anyone = has.any(axis=1)
    rows: dict[tuple[frozenset[int], int], int] = {}
    remap = np.empty(len(sets) + 1, np.int32)
    for s, members in enumerate(sets):
        key = (frozenset(x for x in members if anyone[x]), len(members))
        remap[s] = rows.setdefault(key, len(rows))
    remap[len(sets)] = len(rows)  # not stated
    value = np.zeros((len(rows) + 1, has.shape[1]), np.float32)
    for (covered, size), u in rows.items():
        if covered:
            value[u] = has[sorted(covered)].sum(axis=0) / np.float32(size)
    return FactorTable(name, remap[np.where(mentee < 0, len(sets), mentee)], value,
                       _applies(len(value)))  # fmt: skip


# --- prepared scoring tables ------------------------------------------------------------------


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
        joint = []
        for g_index, group in enumerate(self.groups):
            table = np.zeros((group.rows, len(cols)), np.float32)
            blocked = np.zeros((group.rows, len(cols)), bool)
            for factor, rows, scale in group.parts:
                if self.weights[factor.name] > 0:
                    table += factor.value[np.ix_(rows, cols)] * scale[:, None]
                if factor.violation is not None:
                    blocked |= factor.violation[np.ix_(rows, cols)]
            if g_index == 0:
                table += self.base[cols]
            table[blocked] = NEG_INF
            joint.append(table)
        levels = free_before = None
        if self.skill_scale is not None:
            levels = mentor_levels(c, cols, self.level_dtype)
        if self.avail_scale is not None:
            free_before = np.ascontiguousarray(c.mentor_free_before[cols].T)
        return Tile(cols, tuple(joint), levels, free_before)


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
    pairs = [zip(p.mentee.tolist(), p.mentor.tolist(), strict=True) for p in parts]
    exclusions = Pairs.of(pair for each in pairs for pair in each)
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


def _applies_by_factor(tables: list[FactorTable], rows: Any = slice(None)) -> dict[str, np.ndarray]:
    """Per factor, whether it applies to each mentee: any of its parts does."""
    out: dict[str, np.ndarray] = {}
    for t in tables:
        mask = t.applies[t.code[rows]]
        out[t.name] = out[t.name] | mask if t.name in out else mask
    return out


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


# --- scoring a block --------------------------------------------------------------------------


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


# --- factors one by one (explanations, tests) -------------------------------------------------


@dataclass(frozen=True)
class FactorBlock:
    rows: np.ndarray  # mentee indices
    cols: np.ndarray  # mentor indices
    weights: Weights
    values: dict[str, np.ndarray]  # float32 [R, C] in [0, 1]; 0 where it does not apply
    counted: dict[str, np.ndarray]  # bool [R]: applies to the mentee and has a weight > 0
    violations: dict[str, np.ndarray]  # bool [R, C] per constraint code
    overlap_minutes: np.ndarray  # int32 [R, C]: weekly shared free time, unsaturated

    def combined(self) -> np.ndarray:
        """float64 [R, n_mentors]: the weighted mean, computed the plain way; -inf if infeasible."""
        total = sum(self.weights[f] * self.counted[f].astype(np.float64) for f in FACTORS)
        weighted = sum(
            self.weights[f] * self.values[f].astype(np.float64) * self.counted[f][:, None]
            for f in FACTORS
        )
        score = np.divide(
            weighted, total[:, None], out=np.zeros_like(weighted), where=total[:, None] > 0
        )
        infeasible = np.logical_or.reduce(list(self.violations.values()))
        return np.where(infeasible, -np.inf, score)


def factor_block(
    cohort: Cohort,
    weights: Any,
    constraints: Any,
    mentee_rows: slice | np.ndarray,
    mentor_cols: slice | np.ndarray | None = None,
) -> FactorBlock:
    """Every factor's value and every constraint's verdict for the rows (and, if given, only
    those mentors), separately."""
    c, w, k = cohort, Weights.of(weights), Constraints.of(constraints)
    rows = np.arange(c.n_mentees)[mentee_rows]
    cols = np.arange(c.n_mentors)[slice(None) if mentor_cols is None else mentor_cols]
    r, n = len(rows), len(cols)
    values, violations = {}, {}
    tables = factor_tables(c, k)
    for table in tables:
        code = table.code[rows]
        part = table.value[np.ix_(code, cols)]
        values[table.name] = values[table.name] + part if table.name in values else part
        if table.violation is not None:
            violations[table.constraint] = table.violation[np.ix_(code, cols)]
    counted = {f: m & (w[f] > 0) for f, m in _applies_by_factor(tables, rows).items()}

    terms, _ = _padded(c.term_ptr, c.term_ids, rows, len(c.terms))
    n_terms = np.diff(c.term_ptr)[rows]
    levels = mentor_levels(c, cols).astype(np.float32) / 4
    covered = levels[terms].sum(axis=0) if len(terms) else np.zeros((r, n))
    values["skills"] = (covered / np.maximum(n_terms, 1)[:, None]).astype(np.float32)
    counted["skills"] = (n_terms > 0) & (w.skills > 0)

    starts, _ = _padded(c.interval_ptr, c.interval_start, rows, 0)
    ends, _ = _padded(c.interval_ptr, c.interval_end, rows, 0)
    free_before = c.mentor_free_before[cols].T.astype(np.int32)  # [673, n]
    overlap = np.zeros((r, n), np.int32)
    for q in range(len(starts)):
        overlap += free_before[ends[q]] - free_before[starts[q]]
    saturated = np.minimum(overlap, SATURATION_QUARTERS).astype(np.float32)
    values["availability"] = saturated / SATURATION_QUARTERS
    counted["availability"] = (np.diff(c.interval_ptr)[rows] > 0) & (w.availability > 0)

    violations["no_capacity"] = np.broadcast_to(c.capacity[cols] <= 0, (r, n))
    pairs = {"same_person": [c.same_person], "declined": [c.declined], "excluded": [c.excluded]}
    if k.exclude_reporting_line:
        pairs["reporting_line"] = [c.mentor_manages, c.mentee_manages]
    row_at, col_at = np.full(c.n_mentees, -1), np.full(c.n_mentors, -1)
    row_at[rows], col_at[cols] = np.arange(r), np.arange(n)
    for name, members in pairs.items():
        mask = np.zeros((r, n), bool)
        for p in members:
            hit = (row_at[p.mentee] >= 0) & (col_at[p.mentor] >= 0)
            mask[row_at[p.mentee[hit]], col_at[p.mentor[hit]]] = True
        violations[name] = mask
    return FactorBlock(rows, cols, w, values, counted, violations, overlap * QUARTER_MINUTES)
