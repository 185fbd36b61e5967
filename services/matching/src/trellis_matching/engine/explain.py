"""Why a mentor scores what it does for a mentee: each factor's value, weight and reasons.

The values come from `factor_block`, the same tables the ranking uses, and the combined score is
their weighted mean, so an explanation always adds up to the score that ranked the pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trellis_matching.engine.breakdown import FactorBlock, factor_block
from trellis_matching.engine.factors import FACTORS, Constraints, style_fit, time_zone_distance
from trellis_matching.engine.features import Cohort
from trellis_matching.engine.vocabulary import LEVELS, normalize, spoken_languages

LANGUAGE_NAMES = {
    "ar": "Arabic", "bn": "Bengali", "cs": "Czech", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "es": "Spanish", "fa": "Persian", "fi": "Finnish",
    "fr": "French", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "ms": "Malay", "nl": "Dutch",
    "no": "Norwegian", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "th": "Thai", "tr": "Turkish",
    "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "zh": "Chinese",
}  # fmt: skip
_LEVEL_NAMES = {v: k for k, v in LEVELS.items()}


@dataclass(frozen=True)
class Reason:
    code: str  # stable, for clients: "skills_covered", "no_shared_language", ...
    text: str  # short, for people: "3 of 4 goal skills covered"


@dataclass(frozen=True)
class FactorExplanation:
    name: str
    value: float  # in [0, 1]
    weight: float  # the program's weight
    counted: bool  # False when the factor does not apply to this mentee, or weighs 0
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Explanation:
    mentee_index: int
    mentor_index: int
    feasible: bool
    score: float | None  # the weighted mean of the counted factors; None when infeasible
    factors: tuple[FactorExplanation, ...]
    violations: tuple[Reason, ...]  # the hard constraints the pair fails, if any


def explain(
    cohort: Cohort, weights: Any, constraints: Any, mentee_index: int, mentor_index: int
) -> Explanation:
    """The explanation of one pair, consistent with `score_block` for the same pair."""
    i, j = int(mentee_index), int(mentor_index)
    block = factor_block(cohort, weights, constraints, [i], [j])
    why = _Reasons(cohort, block, Constraints.of(constraints), i, j)
    factors = tuple(
        FactorExplanation(
            name=f,
            value=float(block.values[f][0, 0]),
            weight=block.weights[f],
            counted=bool(block.counted[f][0]),
            reasons=tuple(getattr(why, f)()),
        )
        for f in FACTORS
    )
    violations = tuple(why.violation(code) for code, v in block.violations.items() if v[0, 0])
    total = sum(f.weight for f in factors if f.counted)
    score = sum(f.weight * f.value for f in factors if f.counted) / total if total else 0.0
    return Explanation(i, j, not violations, None if violations else score, factors, violations)


def _hours(minutes: float) -> str:
    return f"{minutes / 60:g} h"


def _language(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


class _Reasons:
    """Reason texts per factor, from the cohort's features for one pair."""

    def __init__(self, c: Cohort, block: FactorBlock, k: Constraints, i: int, j: int) -> None:
        self.c, self.block, self.k, self.i, self.j = c, block, k, i, j
        self.mentee, self.mentor = c.mentees[i], c.mentors[j]

    def skills(self) -> list[Reason]:
        c, i, j = self.c, self.i, self.j
        wanted = c.term_ids[c.term_ptr[i] : c.term_ptr[i + 1]]
        if not len(wanted):
            return [Reason("skills_not_stated", "mentee states no goals")]
        lo, hi = c.mentor_term_ptr[j], c.mentor_term_ptr[j + 1]
        ids, levels = c.mentor_term_ids[lo:hi].tolist(), c.mentor_term_level[lo:hi].tolist()
        offered = dict(zip(ids, levels, strict=True))
        # Show the mentor's own spelling of each term ("SQL", not "sql").
        spelled = {normalize(n): n for n in (*self.mentor.topics, *self.mentor.skills)}
        covered = [
            (spelled.get(c.terms[t], c.terms[t]), offered[t])
            for t in wanted.tolist()
            if t in offered
        ]
        reasons = [Reason("skills_covered", f"{len(covered)} of {len(wanted)} goal skills covered")]
        if covered:
            names = ", ".join(f"{term} ({_LEVEL_NAMES[level]})" for term, level in covered[:5])
            reasons.append(Reason("skills_offered", f"offers {names}"))
        return reasons

    def goals(self) -> list[Reason]:
        c, code = self.c, self.c.mentee_category_set[self.i]
        if code < 0:
            return [Reason("goals_not_stated", "mentee states no goal categories")]
        wanted = sorted(c.category_sets[code])
        met = [c.categories[x] for x in wanted if c.mentor_categories[x, self.j]]
        text = f"mentor covers {len(met)} of {len(wanted)} goal categories"
        return [Reason("goal_categories", text + (f" ({', '.join(met)})" if met else ""))]

    def availability(self) -> list[Reason]:
        if self.c.interval_ptr[self.i] == self.c.interval_ptr[self.i + 1]:
            return [Reason("availability_not_stated", "mentee states no availability")]
        minutes = int(self.block.overlap_minutes[0, 0])
        if not minutes:
            return [Reason("availability_none", "no shared free time in the week")]
        return [Reason("availability_overlap", f"{_hours(minutes)}/week overlap")]

    def language(self) -> list[Reason]:
        shared = sorted(spoken_languages(self.mentee) & spoken_languages(self.mentor))
        if shared:
            names = " and ".join(_language(x) for x in shared)
            return [Reason("language_shared", f"shares {names}")]
        return [Reason("language_none", "no shared language")]

    def time_zone(self) -> list[Reason]:
        minutes = self._distance()
        if not minutes:
            return [Reason("time_zone_same", "same time of day")]
        return [Reason("time_zone_distance", f"{_hours(minutes)} apart")]

    def seniority(self) -> list[Reason]:
        mine, theirs = self.mentee.seniority_level, self.mentor.seniority_level
        if mine is None:
            return [Reason("seniority_not_stated", "mentee states no seniority")]
        if theirs is None:
            return [Reason("seniority_unknown", "mentor states no seniority")]
        gap = theirs - mine
        if gap <= 0:
            return [Reason("seniority_not_senior", "mentor is not more senior")]
        plural = "s" if gap > 1 else ""
        return [Reason("seniority_gap", f"mentor {gap} level{plural} more senior")]

    def industry(self) -> list[Reason]:
        c, i, j = self.c, self.i, self.j
        reasons = []
        for label, names, mine, theirs in (
            ("industry", c.industries, c.mentee_industry[i], c.mentor_industry[j]),
            ("function", c.functions, c.mentee_function[i], c.mentor_function[j]),
        ):
            if mine < 0:
                continue
            if mine == theirs:
                reasons.append(Reason(f"{label}_same", f"same {label} ({names[mine]})"))
            else:
                reasons.append(Reason(f"{label}_different", f"different {label}"))
        return reasons or [Reason("industry_not_stated", "mentee states no industry or function")]

    def preferences(self) -> list[Reason]:
        c, code = self.c, self.c.mentee_preference_set[self.i]
        if code < 0:
            return [Reason("preferences_not_stated", "no stated preferences to check")]
        wanted = sorted(c.preference_sets[code])
        met = [c.preference_terms[t][0] for t in wanted if c.mentor_offers[t, self.j]]
        text = f"meets {len(met)} of {len(wanted)} stated preferences"
        return [Reason("preferences_met", text + (f" ({', '.join(met)})" if met else ""))]

    def style(self) -> list[Reason]:
        learning, mentoring = self.mentee.learning_style, self.mentor.mentoring_style
        reasons = []
        if learning:
            fit = style_fit(learning, mentoring)
            if mentoring is None:
                reasons.append(Reason("style_unknown", "mentor states no mentoring style"))
            elif fit == 1.0:
                reasons.append(Reason("style_fit", f"{mentoring} suits {learning} learners"))
            else:
                reasons.append(
                    Reason("style_neutral", f"{mentoring} mentoring, {learning} learner")
                )
        c, code = self.c, self.c.mentee_channel_set[self.i]
        if code >= 0:
            shared = [
                c.channels[x] for x in sorted(c.channel_sets[code]) if c.mentor_channels[x, self.j]
            ]
            if shared:
                reasons.append(Reason("channel_shared", f"both use {', '.join(shared)}"))
            else:
                reasons.append(Reason("channel_none", "no communication channel in common"))
        return reasons or [Reason("style_not_stated", "mentee states no style or channels")]

    def violation(self, code: str) -> Reason:
        texts = {
            "same_person": lambda: "mentee and mentor are the same person",
            "no_capacity": lambda: "mentor has no free capacity",
            "no_shared_language": lambda: "no shared language",
            "time_zone_too_far": lambda: (
                f"{_hours(self._distance())} apart, more than the program's "
                f"{_hours(60 * (self.k.max_time_zone_difference_hours or 0))}"
            ),
            "seniority_gap_too_small": lambda: (
                f"the program requires a mentor at least {self.k.min_seniority_gap} levels more "
                "senior"
            ),
            "reporting_line": lambda: (
                "mentor is in the mentee's reporting line"
                if self.c.mentor_manages.contains(self.i, self.j)
                else "mentee is in the mentor's reporting line"
            ),
            "declined": lambda: "this pair was declined before",
            "excluded": lambda: "this pair is excluded",
        }
        return Reason(code, texts[code]())

    def _distance(self) -> int:
        return int(time_zone_distance(self.c.mentee_offset[self.i], self.c.mentor_offset[self.j]))
