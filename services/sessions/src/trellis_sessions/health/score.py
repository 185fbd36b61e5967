"""A mentorship's health: 0-100 from five weighted components, each 0..1 with a reason.

Pure and vectorized: every fact is a numpy array over many mentorships, so the sweep scores a
batch of thousands at once and the health route scores one through the same code.

Components and weights (they sum to 1; the score is 100 x the weighted sum):
- cadence 0.30: completed meetings in the last three cadence windows against the number
  expected. Drift shows first as meetings that stop, so it weighs most, with last contact.
  A young mentorship gets one cadence of grace to hold its first meeting.
- last_contact 0.30: days since the last completed meeting or check-in, against the cadence:
  full marks within one cadence, none at two. With cadence, this is what "no meeting in twice the
  cadence" hits: on its own, with every other fact neutral, it puts the score at about 46, below the
  default threshold of 50 (the issue's example of a mentorship to nudge).
- sentiment 0.15: the mean recent check-in rating (1 -> 0, 5 -> 1). What the people say matters,
  but a single sour check-in must not flag a mentorship that meets on time.
- goals 0.15: how far the goals with target dates are behind schedule (mean progress against the
  mean share of time elapsed to their target dates); 1 when on or ahead of schedule.
- cancellations 0.10: share of recent meetings cancelled. Weighs least because cancelled meetings
  also lower cadence already; this adds the signal of meetings that keep being called off.

No evidence is neutral, never alarming: no check-ins counts as "going fine" (a rating of 4), no
dated goals and no recent meetings to cancel count as full marks. A brand-new mentorship scores
about 96.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

NAMES = ("cadence", "last_contact", "cancellations", "sentiment", "goals")
WEIGHTS = np.array([0.30, 0.30, 0.10, 0.15, 0.15])
WINDOWS = 3  # cadence windows looked back for meetings, cancellations and check-ins
NEUTRAL_SENTIMENT = 0.75  # the value of a mean rating of 4 of 5
LOW = 0.5  # a component under this is named among the reasons of an at-risk mentorship


@dataclass
class Facts:
    """What the score is computed from, one entry per mentorship (NaN where nothing is known)."""

    cadence_days: np.ndarray  # the agreed cadence
    age_days: np.ndarray  # since the mentorship started
    completed: np.ndarray  # meetings completed in the window
    cancelled: np.ndarray  # meetings cancelled in the window
    since_contact_days: np.ndarray  # since the last completed meeting or check-in; NaN: never
    checkins: np.ndarray  # check-ins in the window
    checkin_mean: np.ndarray  # their mean rating 1-5; NaN without check-ins
    goals: np.ndarray  # goals with target dates, not dropped
    goal_progress: np.ndarray  # their mean progress 0..1 (a completed goal counts 1)
    goal_elapsed: np.ndarray  # their mean share of time elapsed to the target date, 0..1

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, np.atleast_1d(np.asarray(getattr(self, f.name), np.float64)))

    def __len__(self) -> int:
        return len(self.cadence_days)

    @classmethod
    def one(cls, **values: float) -> Facts:
        """One mentorship's facts; unspecified ones take neutral values."""
        neutral = {
            "completed": 0,
            "cancelled": 0,
            "since_contact_days": np.nan,
            "checkins": 0,
            "checkin_mean": np.nan,
            "goals": 0,
            "goal_progress": 0,
            "goal_elapsed": 0,
        }
        return cls(**(neutral | values))


@dataclass(frozen=True)
class Component:
    name: str
    value: float
    weight: float
    reason: str


@dataclass
class Health:
    facts: Facts
    values: np.ndarray  # (n, 5), in the order of NAMES
    score: np.ndarray  # (n,) ints 0..100

    def components(self, i: int) -> list[Component]:
        """Mentorship i's components, each with its human reason."""
        texts = _reasons(self.facts, i)
        return [
            Component(name, round(float(self.values[i, k]), 3), float(WEIGHTS[k]), texts[k])
            for k, name in enumerate(NAMES)
        ]

    def reasons(self, i: int) -> list[str]:
        """The reasons of mentorship i's weak components, the costliest first (at least one:
        a program with a high threshold flags mentorships without any weak component)."""
        lost = (1 - self.values[i]) * WEIGHTS
        order = np.argsort(-lost, kind="stable")
        texts = _reasons(self.facts, i)
        return [texts[k] for k in order if self.values[i, k] < LOW] or [texts[order[0]]]


def score(facts: Facts) -> Health:
    """Score every mentorship of `facts` at once."""
    f = facts
    cadence = np.maximum(f.cadence_days, 1.0)
    # One cadence of grace for the first meeting, then up to WINDOWS meetings expected.
    expected = np.clip(f.age_days / cadence - 1.0, 0.0, WINDOWS)
    kept = np.minimum(
        1.0, np.divide(f.completed, expected, out=np.ones_like(expected), where=expected > 0)
    )
    # Below one expected meeting the shortfall counts in proportion, so grace fades smoothly.
    cadence_value = 1.0 - np.minimum(expected, 1.0) * (1.0 - kept)

    since = np.where(np.isnan(f.since_contact_days), f.age_days, f.since_contact_days)
    contact_value = np.clip(2.0 - since / cadence, 0.0, 1.0)

    held = f.completed + f.cancelled
    cancel_value = 1.0 - np.divide(f.cancelled, held, out=np.zeros_like(held), where=held > 0)

    rated = (f.checkins > 0) & ~np.isnan(f.checkin_mean)
    rating = np.nan_to_num(f.checkin_mean, nan=1.0)
    sentiment_value = np.where(rated, np.clip((rating - 1.0) / 4.0, 0.0, 1.0), NEUTRAL_SENTIMENT)

    behind = np.maximum(0.0, f.goal_elapsed - f.goal_progress)
    goals_value = np.where(f.goals > 0, np.clip(1.0 - behind, 0.0, 1.0), 1.0)

    values = np.stack(
        [cadence_value, contact_value, cancel_value, sentiment_value, goals_value], axis=1
    )
    # Column by column, not `values @ WEIGHTS`: a matrix product sums in an order (and with fused
    # multiply-adds) that depends on the number of rows, so one mentorship scored alone could
    # round to a point away from its score in a sweep (seen: 37 alone, 38 among 2,000).
    weighted = sum(values[:, k] * WEIGHTS[k] for k in range(values.shape[1]))
    total = np.clip(np.rint(100.0 * weighted), 0, 100).astype(np.int64)
    return Health(facts, values, total)


def _days(x: float) -> str:
    n = round(float(x))
    return "1 day" if n == 1 else f"{n} days"


def _reasons(f: Facts, i: int) -> list[str]:
    cadence = max(float(f.cadence_days[i]), 1.0)
    age = float(f.age_days[i])
    every = f"every {_days(cadence)} agreed"
    expected = min(max(age / cadence - 1.0, 0.0), WINDOWS)
    completed = int(f.completed[i])
    if expected <= 0:
        cadence_text = f"Started {_days(age)} ago: the first meeting is due within {_days(cadence)}"
    else:
        window = min(age, WINDOWS * cadence)
        cadence_text = (
            f"{completed} of {expected:.3g} expected meetings held in the last "
            f"{_days(window)} ({every})"
        )

    since = f.since_contact_days[i]
    if np.isnan(since):
        contact_text = f"No meeting or check-in since the start {_days(age)} ago ({every})"
    else:
        contact_text = f"Last meeting or check-in {_days(since)} ago ({every})"

    cancelled, held = int(f.cancelled[i]), int(f.completed[i] + f.cancelled[i])
    cancel_text = (
        f"{cancelled} of {held} recent meetings cancelled"
        if held
        else "No recent meetings held or cancelled"
    )

    checkins = int(f.checkins[i])
    sentiment_text = (
        f"Mean check-in rating {f.checkin_mean[i]:.1f}/5 over {checkins} recent check-in"
        + ("s" if checkins != 1 else "")
        if checkins and not np.isnan(f.checkin_mean[i])
        else "No recent check-ins (counted as going fine)"
    )

    goals = int(f.goals[i])
    progress, elapsed = float(f.goal_progress[i]), float(f.goal_elapsed[i])
    if not goals:
        goals_text = "No goals with target dates yet"
    else:
        state = "behind schedule" if elapsed > progress else "on schedule"
        goals_text = (
            f"{goals} dated goal{'s' if goals != 1 else ''} {state}: progress "
            f"{progress:.0%} with {elapsed:.0%} of the time to their target dates gone"
        )
    return [cadence_text, contact_text, cancel_text, sentiment_text, goals_text]
