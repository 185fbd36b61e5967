"""When a failed delivery is tried again: exponential backoff with full jitter, for 24 hours.

The waits are drawn uniformly between zero and a cap that grows with each failure (5 s, 5 min,
30 min, 2 h, 5 h, then 10 h), so that many deliveries failing together (an endpoint down) do not
come back together. The retry window is counted from the delivery's first attempt; the last try
is made at its end, after which the delivery has failed for good. `scale` shrinks the caps and
the window alike (tests run the whole schedule in seconds).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

CAPS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)
WINDOW = timedelta(hours=24)


def window(scale: float) -> timedelta:
    return WINDOW * scale


def next_attempt(
    *,
    failures: int,
    first_attempt_at: datetime,
    now: datetime,
    scale: float = 1.0,
    draw: Callable[[], float] = random.random,
) -> datetime | None:
    """When to try again after `failures` failed attempts in a row; None once the window is over."""
    deadline = first_attempt_at + window(scale)
    if now >= deadline:
        return None
    cap = CAPS[min(max(failures, 1), len(CAPS)) - 1] * scale
    return min(now + cap * draw(), deadline)
