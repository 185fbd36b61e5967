"""Per-cohort feature arrays: everything scoring needs, computed once from the profiles.

A cohort turns mentee and mentor profiles into integer codes and small numeric arrays; scoring never
looks at a profile again. Free text (skills, topics, goal descriptions, industries) is compared
through one normalised vocabulary, languages through their BCP 47 primary subtag ("es-MX" and "es"
are both "es"), and availability through a weekly UTC grid of quarter-hours.

Time zones are evaluated in one reference week (`week_of`: callers pass the cohort's first week;
the default is the current one). Every local slot is converted with zoneinfo at its real instant
in that week and UTC offsets are read at its middle (Thursday 12:00 UTC), so a New York / London
pair is 4 h apart in the weeks between the US and the EU clock changes and 5 h apart otherwise,
as the two people will experience that week. Nonexistent local times (spring forward) are dropped;
repeated ones (fall back) count twice, as they happen twice. One week rather than an average over
the cohort keeps every figure explainable ("2 h/week overlap" is a week that exists).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

LEVELS = {"beginner": 1, "intermediate": 2, "advanced": 3, "expert": 4}
TOPIC_LEVEL = 3
"""A listed mentoring topic counts as an "advanced" skill unless a skill states a higher level."""
QUARTER_MINUTES = 15
WEEK_BINS = 7 * 24 * 60 // QUARTER_MINUTES  # 672 quarter-hours; all real UTC offsets divide 15 min
PREFERENCE_KEYS = (
    "industry",
    "function",
    "mentoring_style",
    "language",
    "time_zone",
    "communication",
)
"""Stated-preference keys scoring can check against a mentor's profile; others are ignored."""


class Slot(NamedTuple):
    """A weekly slot in the person's own time zone; end may be "24:00"."""

    weekday: int  # 0 = Monday
    start: str  # "HH:MM"
    end: str


class Goal(NamedTuple):
    category: str
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class _Profile:
    person_id: Hashable
    languages: tuple[str, ...] = ()
    locale: str | None = None  # used as the spoken language when `languages` is empty
    time_zone: str = "UTC"
    availability: tuple[Slot, ...] = ()
    skills: Mapping[str, str] = field(default_factory=dict)  # name -> beginner..expert
    seniority_level: int | None = None  # 0 = student ... 10 = executive
    industry: str | None = None
    function: str | None = None
    manager_id: Hashable | None = None
    communication: tuple[str, ...] = ()
    preferences: Mapping[str, str] = field(default_factory=dict)  # opted-in only
    declined_with: frozenset[Hashable] = frozenset()  # person ids; either side's decline counts
    excluded: frozenset[Hashable] = frozenset()


@dataclass(frozen=True, kw_only=True)
class MenteeProfile(_Profile):
    goals: tuple[Goal, ...] = ()
    learning_style: str | None = None

    @classmethod
    def from_records(
        cls,
        person: Mapping[str, Any],
        enrollment: Mapping[str, Any],
        *,
        declined_with: Iterable[Hashable] = (),
        excluded: Iterable[Hashable] = (),
    ) -> MenteeProfile:
        """From a person and an enrollment as the profiles events carry them (dicts or models)."""
        return cls(
            **_person_fields(person, declined_with, excluded),
            goals=tuple(
                Goal(_get(g, "category"), _get(g, "description") or "")
                for g in _get(enrollment, "goals") or ()
            ),
            learning_style=_get(person, "learning_style"),
        )


@dataclass(frozen=True, kw_only=True)
class MentorProfile(_Profile):
    topics: tuple[str, ...] = ()
    mentoring_style: str | None = None
    capacity: int = 1  # free places; 0 makes every pair infeasible

    @classmethod
    def from_records(
        cls,
        person: Mapping[str, Any],
        enrollment: Mapping[str, Any],
        *,
        default_capacity: int = 1,
        declined_with: Iterable[Hashable] = (),
        excluded: Iterable[Hashable] = (),
    ) -> MentorProfile:
        """From a person and an enrollment as the profiles events carry them (dicts or models)."""
        capacity = _get(enrollment, "capacity")
        return cls(
            **_person_fields(person, declined_with, excluded),
            topics=tuple(_get(enrollment, "topics") or ()),
            mentoring_style=_get(person, "mentoring_style"),
            capacity=default_capacity if capacity is None else int(capacity),
        )


def _get(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


def _person_fields(person: Any, declined: Iterable[Hashable], excluded: Iterable[Hashable]) -> dict:
    return {
        "person_id": _get(person, "person_id"),
        "languages": tuple(_get(person, "languages") or ()),
        "locale": _get(person, "locale"),
        "time_zone": _get(person, "time_zone") or "UTC",
        "availability": tuple(
            Slot(_get(s, "weekday"), _get(s, "start"), _get(s, "end"))
            for s in _get(person, "availability") or ()
        ),
        "skills": {_get(s, "name"): _get(s, "level") for s in _get(person, "skills") or ()},
        "seniority_level": _get(person, "seniority_level"),
        "industry": _get(person, "industry"),
        "function": _get(person, "function"),
        "manager_id": _get(person, "manager_id"),
        "communication": tuple(_get(person, "communication") or ()),
        "preferences": dict(_get(person, "matching_preferences") or {}),
        "declined_with": frozenset(declined),
        "excluded": frozenset(excluded),
    }


# --- text ------------------------------------------------------------------------------------

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


# --- time ------------------------------------------------------------------------------------


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


# --- cohort ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pairs:
    """Mentee-mentor index pairs, sorted by mentee."""

    mentee: np.ndarray  # int32
    mentor: np.ndarray  # int32

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, int]]) -> Pairs:
        array = np.array(sorted(set(pairs)), np.int32).reshape(-1, 2)
        return cls(array[:, 0].copy(), array[:, 1].copy())

    def __len__(self) -> int:
        return len(self.mentee)

    def contains(self, i: int, j: int) -> bool:
        lo, hi = np.searchsorted(self.mentee, [i, i + 1])
        return bool(np.any(self.mentor[lo:hi] == j))


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


def _exclusions(
    mentees: Sequence[MenteeProfile],
    mentors: Sequence[MentorProfile],
    managers: Mapping[Hashable, Hashable],
) -> dict[str, Pairs]:
    mentee_at = {p.person_id: i for i, p in enumerate(mentees)}
    mentor_at = {m.person_id: j for j, m in enumerate(mentors)}
    boss = dict(managers)
    for p in (*mentees, *mentors):
        if p.manager_id is not None:
            boss[p.person_id] = p.manager_id

    def chain(person: Hashable) -> Iterable[Hashable]:
        seen = {person}
        while (person := boss.get(person)) is not None and person not in seen:
            seen.add(person)
            yield person

    same, declined, excluded, above, below = [], [], [], [], []
    for i, p in enumerate(mentees):
        if (j := mentor_at.get(p.person_id)) is not None:
            same.append((i, j))
        declined += [(i, mentor_at[x]) for x in p.declined_with if x in mentor_at]
        excluded += [(i, mentor_at[x]) for x in p.excluded if x in mentor_at]
        above += [(i, mentor_at[x]) for x in chain(p.person_id) if x in mentor_at]
    for j, m in enumerate(mentors):
        declined += [(mentee_at[x], j) for x in m.declined_with if x in mentee_at]
        excluded += [(mentee_at[x], j) for x in m.excluded if x in mentee_at]
        below += [(mentee_at[x], j) for x in chain(m.person_id) if x in mentee_at]
    return {
        "same_person": Pairs.of(same),
        "declined": Pairs.of(declined),
        "excluded": Pairs.of(excluded),
        "mentor_manages": Pairs.of(above),
        "mentee_manages": Pairs.of(below),
    }
