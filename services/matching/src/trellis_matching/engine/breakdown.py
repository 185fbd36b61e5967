"""Every factor and constraint separately for some pairs: what explanations and tests read.

The scorer folds the factors into merged tables for speed; this computes each factor's value and
each constraint's verdict on its own, from the same factor tables and kernels, and
`FactorBlock.combined` their weighted mean the plain way, which the tests hold `score` to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trellis_matching.engine.availability import QUARTER_MINUTES
from trellis_matching.engine.factors import FACTORS, SATURATION_QUARTERS, Constraints, Weights
from trellis_matching.engine.features import Cohort
from trellis_matching.engine.prepared import mentor_levels
from trellis_matching.engine.score import _padded
from trellis_matching.engine.tables import _applies_by_factor, factor_tables


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
