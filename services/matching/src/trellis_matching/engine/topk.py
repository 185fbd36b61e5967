"""Pairs as sortable uint64 keys, and the best keys of each row.

A key is (float32 score bits << 32) | ~index: feasible scores are >= 0, where float32 bit patterns
order like the numbers, so a larger key is a better pair, and among equal scores the lower index
(mentor, or mentee on a mentor's side) wins. Key 0 means "no pair".
"""

from __future__ import annotations

import numpy as np

from trellis_matching.engine.prepared import Tile
from trellis_matching.engine.score import Workspace

_LOW32 = np.uint64(0xFFFFFFFF)


def keys_of(scores: np.ndarray, index: np.ndarray) -> np.ndarray:
    # Feasible scores are >= 0, where float32 bit patterns order like the numbers; clipping also
    # turns a -0.0 into 0.0 and an ulp over 1 into 1.
    bits = np.clip(scores, 0, 1).astype(np.float32).view(np.uint32).astype(np.uint64)
    return (bits << np.uint64(32)) | (_LOW32 - index.astype(np.uint64))


def score_of(keys: np.ndarray) -> np.ndarray:
    return (keys >> np.uint64(32)).astype(np.uint32).view(np.float32)


def index_of(keys: np.ndarray) -> np.ndarray:
    return (_LOW32 - (keys & _LOW32)).astype(np.int32)


class ColumnSurvivors:
    """A block's pairs at or above their column's threshold, as (column, key naming the mentee)."""

    def __init__(self, rows: np.ndarray, threshold: np.ndarray | None) -> None:
        self.rows, self.threshold = rows, threshold
        self.cols: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []

    def add(self, tile: Tile, scores: np.ndarray, work: Workspace) -> None:
        if self.threshold is None:
            return
        mask = work.get("col_mask", len(self.rows), tile.width, bool)
        np.greater_equal(scores, self.threshold[tile.cols][None, :], out=mask)
        row, col = np.divmod(np.flatnonzero(mask), tile.width)
        if len(row):
            self.cols.append(tile.cols[col].astype(np.int64))
            self.keys.append(keys_of(scores[row, col], self.rows[row]))

    def result(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self.threshold is None:
            return None
        if not self.cols:
            return np.zeros(0, np.int64), np.zeros(0, np.uint64)
        return np.concatenate(self.cols), np.concatenate(self.keys)


def select_top(
    row: np.ndarray, keys: np.ndarray, r: int, keep: int, *, grouped: bool = False
) -> np.ndarray:
    """The `keep` largest keys of each row, descending, 0-padded. `grouped`: `row` is already
    ascending (as np.nonzero gives it), so the pairs need no sorting."""
    if not grouped:
        order = np.argsort(row, kind="stable")
        row, keys = row[order], keys[order]
    counts = np.bincount(row, minlength=r)
    position = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)
    out = np.zeros((r, keep), np.uint64)
    # Survivors rarely exceed a few hundred per row; heavy ties can make a row long, so rows
    # beyond `cap` take a slower path instead of widening the dense matrix for everyone.
    cap = 16 * keep
    longest = int(counts.max(initial=0))
    dense = np.zeros((r, max(min(longest, cap), keep)), np.uint64)
    if longest <= cap:
        dense[row, position] = keys
    else:
        short = counts[row] <= cap
        dense[row[short], position[short]] = keys[short]
    if dense.shape[1] > keep:
        dense = np.partition(dense, dense.shape[1] - keep, axis=1)[:, -keep:]
    out[:] = np.sort(dense, axis=1)[:, ::-1]
    for i in np.flatnonzero(counts > cap):
        mine = keys[row == i]
        out[i] = np.sort(np.partition(mine, len(mine) - keep)[-keep:])[::-1]
    return out
