"""Per-factor tables of a cohort: a categorical factor as value[code(mentee), mentor].

Apart from skills and availability, a factor depends on the mentee only through a small code (its
UTC offset, its language set, its seniority ...), so it is a table [codes, mentors] computed once,
with its constraint's verdict beside it. The tables are kept on the cohort (`_cached`), per set of
constraints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trellis_matching.engine.factors import (
    Constraints,
    seniority_fit,
    style_fit,
    time_zone_distance,
    time_zone_fit,
)
from trellis_matching.engine.features import Cohort


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


def _applies_by_factor(tables: list[FactorTable], rows: Any = slice(None)) -> dict[str, np.ndarray]:
    """Per factor, whether it applies to each mentee: any of its parts does."""
    out: dict[str, np.ndarray] = {}
    for t in tables:
        mask = t.applies[t.code[rows]]
        out[t.name] = out[t.name] | mask if t.name in out else mask
    return out
