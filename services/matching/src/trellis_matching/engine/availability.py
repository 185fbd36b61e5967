"""Weekly availability and UTC offsets, on a grid of UTC quarter-hours of one reference week.

Time zones are evaluated in one reference week (`week_of`: callers pass the cohort's first week;
the default is the current one). Every local slot is converted with zoneinfo at its real instant
in that week and UTC offsets are read at its middle (Thursday 12:00 UTC), so a New York / London
pair is 4 h apart in the weeks between the US and the EU clock changes and 5 h apart otherwise,
as the two people will experience that week. Nonexistent local times (spring forward) are dropped;
repeated ones (fall back) count twice, as they happen twice. One week rather than an average over
the cohort keeps every figure explainable ("2 h/week overlap" is a week that exists).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from trellis_matching.engine.profiles import _Profile
from trellis_matching.engine.vocabulary import _Codes

QUARTER_MINUTES = 15
WEEK_BINS = 7 * 24 * 60 // QUARTER_MINUTES  # 672 quarter-hours; all real UTC offsets divide 15 min


def week_start(week_of: date) -> datetime:
    """Monday 00:00 UTC of the week containing `week_of`."""
    monday = week_of - timedelta(days=week_of.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


@lru_cache(maxsize=4096)
def local_bin_of_utc(zone: str, monday: date) -> np.ndarray:
    """int16 [672]: for each UTC quarter-hour of the reference week, the local weekly quarter-hour
    it falls in. Mapping UTC to local (never the reverse) is always defined, which is what makes
    DST gaps and repeats come out right."""
    tz = ZoneInfo(zone)
    start = week_start(monday)
    step = timedelta(minutes=QUARTER_MINUTES)
    out = np.empty(WEEK_BINS, np.int16)
    for t in range(WEEK_BINS):
        local = (start + t * step).astimezone(tz)
        out[t] = local.weekday() * 96 + (local.hour * 60 + local.minute) // QUARTER_MINUTES
    out.flags.writeable = False
    return out


@lru_cache(maxsize=4096)
def utc_offset_minutes(zone: str, monday: date) -> int:
    """The zone's UTC offset at the middle of the reference week (Thursday 12:00 UTC)."""
    instant = week_start(monday) + timedelta(days=3, hours=12)
    offset = instant.astimezone(ZoneInfo(zone)).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


@lru_cache(maxsize=1 << 14)
def _slot_bins(weekday: int, start: str, end: str) -> tuple[int, int] | None:
    """A local slot as a half-open range of weekly quarter-hours, keeping only whole quarters."""
    first = -(-_minutes(start) // QUARTER_MINUTES)
    last = min(_minutes(end), 24 * 60) // QUARTER_MINUTES
    if not 0 <= int(weekday) <= 6 or last <= first:
        return None
    return int(weekday) * 96 + first, int(weekday) * 96 + last


def utc_availability(profiles: Sequence[_Profile], monday: date) -> np.ndarray:
    """bool [n, 672]: when each person is free, in UTC quarter-hours of the reference week."""
    person, first, last = [], [], []
    for i, p in enumerate(profiles):
        for slot in p.availability:
            if hasattr(slot, "weekday"):
                bins = _slot_bins(slot.weekday, slot.start, slot.end)
            else:
                bins = _slot_bins(*slot)
            if bins:
                person.append(i)
                first.append(bins[0])
                last.append(bins[1])
    person_, first_, last_ = (np.array(x, np.int64) for x in (person, first, last))
    zones = _Codes()
    zone = np.array([zones(p.time_zone) for p in profiles], np.int32)
    out = np.zeros((len(profiles), WEEK_BINS), bool)
    slot_zone = zone[person_]
    for code, name in enumerate(zones.values()):
        mine = np.flatnonzero(slot_zone == code)
        if not len(mine):
            continue
        rows, row_of_slot = np.unique(person_[mine], return_inverse=True)
        # Local weekly bitmaps via a difference array: +1 where a slot starts, -1 at its end.
        diff = np.zeros((len(rows), WEEK_BINS + 1), np.int16)
        np.add.at(diff, (row_of_slot, first_[mine]), 1)
        np.add.at(diff, (row_of_slot, last_[mine]), -1)
        local = np.cumsum(diff[:, :WEEK_BINS], axis=1) > 0
        out[rows] = local[:, local_bin_of_utc(name, monday)]
    return out


def free_intervals(free: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of a bool [n, 672] grid as CSR (ptr int64 [n+1], start int16, end int16)."""
    n, width = free.shape
    before = np.zeros_like(free)
    before[:, 1:] = free[:, :-1]
    after = np.zeros_like(free)
    after[:, :-1] = free[:, 1:]
    # Starts and ends come out in the same row-major order, so they pair up run by run.
    rows, starts = np.divmod(np.flatnonzero(free & ~before), width)
    ends = np.flatnonzero(free & ~after) % width + 1
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
    return ptr, starts.astype(np.int16), ends.astype(np.int16)
