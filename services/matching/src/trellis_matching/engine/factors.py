"""The scoring factors and hard constraints, the program's weights, and the per-pair kernels.

Every factor is a number in [0, 1] per mentee-mentor pair. A pair's score is the mean of the
factors weighted by the program's weights, over the factors that apply to the mentee (a mentee who
states no goals is not scored on goals); a hard constraint makes it -inf. The kernels turn one
difference between the two people (seniority gap, UTC offsets, styles) into a factor's value; the
factor tables and the explanations share them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from trellis_matching.engine.vocabulary import normalize

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
    style: float = 1.0

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
