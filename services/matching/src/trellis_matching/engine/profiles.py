"""The people the engine matches, as it takes them in: mentee and mentor profiles.

A profile holds what scoring needs to know about one person in one program: languages, time zone
and weekly availability, skills or goals, seniority, organisation, style, stated preferences, and
the people the pair must never be matched with. `from_records` builds one from the person and
enrollment records the profiles events carry; `features.build_cohort` turns a program's profiles
into arrays.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple


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
