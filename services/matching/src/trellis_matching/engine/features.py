"""Per-cohort feature arrays: everything scoring needs, computed once from the profiles.

A cohort turns mentee and mentor profiles into integer codes and small numeric arrays; scoring never
looks at a profile again. How values become comparable lives beside it: free text, languages and
stated preferences in `vocabulary`, availability and time zones (a weekly UTC grid of
quarter-hours) in `availability`, and the pairs the data rules out in `exclusions`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from trellis_matching.engine.availability import (
    WEEK_BINS,
    free_intervals,
    utc_availability,
    utc_offset_minutes,
    week_start,
)
from trellis_matching.engine.exclusions import Pairs, _exclusions
from trellis_matching.engine.profiles import MenteeProfile, MentorProfile, _Profile
from trellis_matching.engine.vocabulary import (
    _Codes,
    goal_terms,
    mentor_offers,
    mentor_terms,
    normalize,
    preference_terms,
    spoken_languages,
)


@dataclass(frozen=True, eq=False)
class Cohort:
    """Feature arrays of one program's mentees and mentors (index = position in the input lists).

    Mentee-side categorical attributes are codes into small tuples of distinct values (-1 = not
    stated); mentor-side ones are boolean matrices [values, n_mentors] so that a whole mentee code
    can be compared with every mentor at once.
    """

    mentees: tuple[MenteeProfile, ...]
    mentors: tuple[MentorProfile, ...]
    week_of: date
    # goals: mentee terms (CSR into `terms`) and the level each mentor offers a term at
    terms: tuple[str, ...]
    term_ptr: np.ndarray
    term_ids: np.ndarray
    mentor_term_ptr: np.ndarray
    mentor_term_ids: np.ndarray
    mentor_term_level: np.ndarray  # int8 1..4
    categories: tuple[str, ...]
    category_sets: tuple[frozenset[int], ...]
    mentee_category_set: np.ndarray
    mentor_categories: np.ndarray  # bool [n_categories, n_mentors]
    # time
    mentee_offset: np.ndarray  # int32 minutes east of UTC in the reference week
    mentor_offset: np.ndarray
    interval_ptr: np.ndarray  # mentees' free UTC quarter-hour runs (CSR)
    interval_start: np.ndarray
    interval_end: np.ndarray
    mentor_free_before: np.ndarray  # int16 [n_mentors, 673]: free quarters before each bin
    # language
    languages: tuple[str, ...]
    language_sets: tuple[frozenset[int], ...]
    mentee_language_set: np.ndarray
    mentor_languages: np.ndarray  # bool [n_languages, n_mentors]
    # seniority, organisation, style
    mentee_seniority: np.ndarray  # int8, -1 = not stated
    mentor_seniority: np.ndarray
    industries: tuple[str, ...]
    mentee_industry: np.ndarray
    mentor_industry: np.ndarray
    functions: tuple[str, ...]
    mentee_function: np.ndarray
    mentor_function: np.ndarray
    learning_styles: tuple[str, ...]
    mentee_learning_style: np.ndarray
    mentoring_styles: tuple[str, ...]
    mentor_mentoring_style: np.ndarray
    channels: tuple[str, ...]
    channel_sets: tuple[frozenset[int], ...]
    mentee_channel_set: np.ndarray
    mentor_channels: np.ndarray  # bool [n_channels, n_mentors]
    # stated preferences
    preference_terms: tuple[tuple[str, str], ...]
    preference_sets: tuple[frozenset[int], ...]
    mentee_preference_set: np.ndarray
    mentor_offers: np.ndarray  # bool [n_preference_terms, n_mentors]
    capacity: np.ndarray  # int32 [n_mentors]
    # hard exclusions known from the data
    same_person: Pairs
    declined: Pairs
    excluded: Pairs
    mentor_manages: Pairs  # the mentor is in the mentee's management chain
    mentee_manages: Pairs  # the mentee is in the mentor's management chain
    cache: dict = field(default_factory=dict, repr=False)  # scoring tables per weights/constraints

    @property
    def n_mentees(self) -> int:
        return len(self.mentees)

    @property
    def n_mentors(self) -> int:
        return len(self.mentors)


def _membership(sets: Sequence[Iterable[int]], n_values: int) -> np.ndarray:
    """bool [n_values, len(sets)]: value v belongs to set j."""
    out = np.zeros((n_values, len(sets)), bool)
    for j, members in enumerate(sets):
        out[list(members), j] = True
    return out


def _csr(rows: Sequence[Sequence[int]], dtype: Any = np.int32) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(rows) + 1, np.int64)
    np.cumsum([len(r) for r in rows], out=ptr[1:])
    flat = np.fromiter((v for r in rows for v in r), dtype, count=int(ptr[-1]))
    return ptr, flat


def build_cohort(
    mentees: Sequence[MenteeProfile],
    mentors: Sequence[MentorProfile],
    *,
    week_of: date | None = None,
    managers: Mapping[Hashable, Hashable] | None = None,
) -> Cohort:
    """Feature arrays for one program. `managers` (person -> manager) adds reporting lines of
    people outside the cohort; the chain is followed as far as the data goes."""
    mentees, mentors = tuple(mentees), tuple(mentors)
    week_of = week_of or datetime.now(UTC).date()
    monday = week_start(week_of).date()
    n_m = len(mentors)

    # Goals against what mentors offer: only terms some mentee asks for get a vocabulary slot.
    offered = [mentor_terms(m) for m in mentors]
    vocabulary = frozenset(t for terms in offered for t in terms)
    term_codes, category_codes, category_set_codes = _Codes(), _Codes(), _Codes()
    mentee_terms = [[term_codes(t) for t in goal_terms(p, vocabulary)] for p in mentees]
    mentee_category_set = np.array(
        [
            category_set_codes.optional(
                frozenset(category_codes(c) for g in p.goals if (c := normalize(g.category or "")))
                or None
            )
            for p in mentees
        ],
        np.int32,
    )
    term_index = term_codes.index
    mentor_rows = [
        sorted((term_index[t], level) for t, level in terms.items() if t in term_index)
        for terms in offered
    ]
    mentor_term_ptr, mentor_term_ids = _csr([[t for t, _ in row] for row in mentor_rows])
    _, mentor_term_level = _csr([[lv for _, lv in row] for row in mentor_rows], np.int8)
    categories = category_codes.values()
    category_index = category_codes.index
    mentor_categories = _membership(
        [[category_index[t] for t in terms if t in category_index] for terms in offered],
        len(categories),
    )
    term_ptr, term_ids = _csr(mentee_terms)

    free = utc_availability(mentees, monday)
    interval_ptr, interval_start, interval_end = free_intervals(free)
    del free
    mentor_free = utc_availability(mentors, monday)
    mentor_free_before = np.zeros((n_m, WEEK_BINS + 1), np.int16)
    np.cumsum(mentor_free, axis=1, out=mentor_free_before[:, 1:])
    del mentor_free

    language_codes, language_set_codes = _Codes(), _Codes()
    mentee_language_set = np.array(
        [
            language_set_codes.optional(
                frozenset(language_codes(x) for x in spoken_languages(p)) or None
            )
            for p in mentees
        ],
        np.int32,
    )
    mentor_language_ids = [[language_codes(x) for x in spoken_languages(m)] for m in mentors]

    industry_codes, function_codes = _Codes(), _Codes()
    learning_codes, mentoring_codes = _Codes(), _Codes()
    channel_codes, channel_set_codes = _Codes(), _Codes()

    def text(value: str | None) -> str | None:
        return normalize(value) if value else None

    mentee_channel_set = np.array(
        [
            channel_set_codes.optional(
                frozenset(channel_codes(normalize(c)) for c in p.communication) or None
            )
            for p in mentees
        ],
        np.int32,
    )
    mentor_channel_ids = [[channel_codes(normalize(c)) for c in m.communication] for m in mentors]

    preference_codes, preference_set_codes = _Codes(), _Codes()
    mentee_preference_set = np.array(
        [
            preference_set_codes.optional(
                frozenset(preference_codes(t) for t in preference_terms(p)) or None
            )
            for p in mentees
        ],
        np.int32,
    )
    preference_vocab = preference_codes.index
    mentor_offers_ids = [
        [preference_vocab[t] for t in mentor_offers(m) if t in preference_vocab] for m in mentors
    ]

    return Cohort(
        mentees=mentees,
        mentors=mentors,
        week_of=monday,
        terms=term_codes.values(),
        term_ptr=term_ptr,
        term_ids=term_ids,
        mentor_term_ptr=mentor_term_ptr,
        mentor_term_ids=mentor_term_ids,
        mentor_term_level=mentor_term_level,
        categories=categories,
        category_sets=category_set_codes.values(),
        mentee_category_set=mentee_category_set,
        mentor_categories=mentor_categories,
        mentee_offset=np.array(
            [utc_offset_minutes(p.time_zone, monday) for p in mentees], np.int32
        ),
        mentor_offset=np.array(
            [utc_offset_minutes(m.time_zone, monday) for m in mentors], np.int32
        ),
        interval_ptr=interval_ptr,
        interval_start=interval_start,
        interval_end=interval_end,
        mentor_free_before=mentor_free_before,
        languages=language_codes.values(),
        language_sets=language_set_codes.values(),
        mentee_language_set=mentee_language_set,
        mentor_languages=_membership(mentor_language_ids, len(language_codes.index)),
        mentee_seniority=_seniority(mentees),
        mentor_seniority=_seniority(mentors),
        mentee_industry=np.array(
            [industry_codes.optional(text(p.industry)) for p in mentees], np.int32
        ),
        mentor_industry=np.array(
            [industry_codes.optional(text(m.industry)) for m in mentors], np.int32
        ),
        industries=industry_codes.values(),
        mentee_function=np.array(
            [function_codes.optional(text(p.function)) for p in mentees], np.int32
        ),
        mentor_function=np.array(
            [function_codes.optional(text(m.function)) for m in mentors], np.int32
        ),
        functions=function_codes.values(),
        mentee_learning_style=np.array(
            [learning_codes.optional(text(p.learning_style)) for p in mentees], np.int16
        ),
        learning_styles=learning_codes.values(),
        mentor_mentoring_style=np.array(
            [mentoring_codes.optional(text(m.mentoring_style)) for m in mentors], np.int16
        ),
        mentoring_styles=mentoring_codes.values(),
        channels=channel_codes.values(),
        channel_sets=channel_set_codes.values(),
        mentee_channel_set=mentee_channel_set,
        mentor_channels=_membership(mentor_channel_ids, len(channel_codes.index)),
        preference_terms=preference_codes.values(),
        preference_sets=preference_set_codes.values(),
        mentee_preference_set=mentee_preference_set,
        mentor_offers=_membership(mentor_offers_ids, len(preference_vocab)),
        capacity=np.array([m.capacity for m in mentors], np.int32),
        **_exclusions(mentees, mentors, managers or {}),
    )


def _seniority(profiles: Sequence[_Profile]) -> np.ndarray:
    return np.array(
        [-1 if p.seniority_level is None else p.seniority_level for p in profiles], np.int8
    )
