"""Rank statistics of the program report: Spearman's correlation and match-score quintiles.

Pure numpy. Small or flat samples give no number and a note saying why, never a division by
zero or a correlation that means nothing.
"""

from __future__ import annotations

import numpy as np

MIN_N = 10  # below this many pairs a rank correlation is noise


def ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks; ties share their average rank."""
    x = np.asarray(x, np.float64)
    order = np.argsort(x, kind="stable")
    ordered = x[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(x)]
    average = (starts + ends + 1) / 2.0  # mean of the 1-based positions start+1 .. end
    out = np.empty(len(x))
    out[order] = np.repeat(average, ends - starts)
    return out


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float | None, int, str | None]:
    """(rho, n, note) over the pairs where both are known (not NaN)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    known = ~(np.isnan(x) | np.isnan(y))
    x, y = x[known], y[known]
    n = len(x)
    if n < MIN_N:
        return None, n, f"Not meaningful: {n} pairs (at least {MIN_N} needed)"
    rx, ry = ranks(x) - (n + 1) / 2.0, ranks(y) - (n + 1) / 2.0
    spread = np.sqrt((rx @ rx) * (ry @ ry))
    if spread == 0:
        return None, n, "Not meaningful: every pair has the same match score or the same outcome"
    return round(float(rx @ ry / spread), 4), n, None


def quintiles(x: np.ndarray) -> np.ndarray:
    """0..4 for each known value of `x` by its rank (ties stay together), -1 where unknown."""
    x = np.asarray(x, np.float64)
    out = np.full(len(x), -1, np.int64)
    known = np.flatnonzero(~np.isnan(x))
    if len(known):
        r = ranks(x[known])
        out[known] = np.minimum(4, np.floor(5 * (r - 1) / len(known))).astype(np.int64)
    return out


def mean_or_none(values: np.ndarray) -> float | None:
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    return round(float(values.mean()), 4) if len(values) else None


def rate_or_none(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None
