"""Free text and categories as comparable terms and codes.

Skills, topics, goal descriptions, industries and styles are compared through one normalised
vocabulary (lowercase words, plural "s" dropped), languages through their BCP 47 primary subtag
("es-MX" and "es" are both "es"), and stated preferences as (key, value) terms that a mentor's
profile can satisfy. `_Codes` numbers the distinct values densely for the cohort's arrays.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from functools import lru_cache
from typing import Any

from trellis_matching.engine.profiles import MenteeProfile, MentorProfile, _Profile

LEVELS = {"beginner": 1, "intermediate": 2, "advanced": 3, "expert": 4}
TOPIC_LEVEL = 3
"""A listed mentoring topic counts as an "advanced" skill unless a skill states a higher level."""
PREFERENCE_KEYS = (
    "industry",
    "function",
    "mentoring_style",
    "language",
    "time_zone",
    "communication",
)
"""Stated-preference keys scoring can check against a mentor's profile; others are ignored."""
_WORD = re.compile(r"[a-z0-9+#]+")


def _stem(word: str) -> str:
    # Plural "s" only: enough for "APIs" ~ "API" without a language-specific stemmer.
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Lowercase words joined by single spaces, plural "s" dropped: "Public Speaking!" -> "public
    speaking"."""
    return " ".join(_stem(w) for w in _WORD.findall(text.lower()))


def primary_language(tag: str) -> str:
    """The BCP 47 primary subtag: "es-MX" -> "es"."""
    return tag.replace("_", "-").split("-", 1)[0].strip().lower()


def spoken_languages(profile: _Profile) -> frozenset[str]:
    tags = profile.languages or ((profile.locale,) if profile.locale else ())
    return frozenset(p for p in map(primary_language, tags) if p)


def mentor_terms(mentor: MentorProfile) -> dict[str, int]:
    """Normalised skill and topic names with the level (1..4) the mentor offers them at."""
    terms: dict[str, int] = {}
    for name, level in mentor.skills.items():
        term = normalize(name)
        if term:
            terms[term] = max(terms.get(term, 0), LEVELS.get(str(level).lower(), 2))
    for topic in mentor.topics:
        term = normalize(topic)
        if term:
            terms[term] = max(terms.get(term, 0), TOPIC_LEVEL)
    return terms


def goal_terms(mentee: MenteeProfile, vocabulary: frozenset[str]) -> tuple[str, ...]:
    """What the mentee wants to learn: each goal's category, plus every vocabulary term found in
    its description (longest match first, so "machine learning" is one term, not two)."""
    match = _matcher(vocabulary)
    found: dict[str, None] = {}
    for goal in mentee.goals:
        category = normalize(goal.category or "")
        if category:
            found[category] = None
        found.update(dict.fromkeys(match(goal.description or "")))
    return tuple(found)


@lru_cache(maxsize=4)
def _matcher(vocabulary: frozenset[str]) -> Any:
    """Term finder for one vocabulary: candidate terms indexed by their first word, longest
    first, and results remembered per description (generated and templated text repeats)."""
    by_first: dict[str, list[list[str]]] = {}
    for term in vocabulary:
        words = term.split()
        by_first.setdefault(words[0], []).append(words)
    for candidates in by_first.values():
        candidates.sort(key=len, reverse=True)

    @lru_cache(maxsize=1 << 16)
    def match(text: str) -> tuple[str, ...]:
        words, found, i = normalize(text).split(), [], 0
        while i < len(words):
            for candidate in by_first.get(words[i], ()):
                if words[i : i + len(candidate)] == candidate:
                    found.append(" ".join(candidate))
                    i += len(candidate)
                    break
            else:
                i += 1
        return tuple(found)

    return match


def preference_terms(mentee: MenteeProfile) -> frozenset[tuple[str, str]]:
    """The mentee's checkable stated preferences as (key, normalised value)."""
    terms = set()
    for key, value in mentee.preferences.items():
        key = normalize(str(key)).replace(" ", "_")
        if key == "style":
            key = "mentoring_style"
        if key in PREFERENCE_KEYS and value:
            terms.add((key, _preference_value(key, str(value))))
    return frozenset(terms)


def _preference_value(key: str, value: str) -> str:
    if key == "language":
        return primary_language(value)
    if key == "time_zone":
        return value.strip().lower()
    return normalize(value)


def mentor_offers(mentor: MentorProfile) -> frozenset[tuple[str, str]]:
    """The (key, value) terms a mentor satisfies, in the same form as `preference_terms`."""
    offers = {("language", lang) for lang in spoken_languages(mentor)}
    offers |= {("communication", normalize(c)) for c in mentor.communication}
    offers.add(("time_zone", mentor.time_zone.strip().lower()))
    for key, value in (
        ("industry", mentor.industry),
        ("function", mentor.function),
        ("mentoring_style", mentor.mentoring_style),
    ):
        if value:
            offers.add((key, normalize(value)))
    return frozenset(offers)


class _Codes:
    """Dense integer codes for hashable values, in first-seen order."""

    def __init__(self) -> None:
        self.index: dict[Hashable, int] = {}

    def __call__(self, value: Hashable) -> int:
        return self.index.setdefault(value, len(self.index))

    def optional(self, value: Hashable | None) -> int:
        return -1 if value is None or value == "" else self(value)

    def values(self) -> tuple:
        return tuple(self.index)
