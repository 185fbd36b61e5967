"""Pairs that the data itself rules out, as mentee-mentor index pairs.

The same person on both sides, a pair that either side declined before, a person that either side
excluded, and reporting lines: the mentor in the mentee's management chain or the other way round,
followed as far as the data goes. Scoring makes each a hard constraint (reporting lines only where
the program excludes them).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trellis_matching.engine.profiles import MenteeProfile, MentorProfile


@dataclass(frozen=True)
class Pairs:
    """Mentee-mentor index pairs, sorted by mentee."""

    mentee: np.ndarray  # int32
    mentor: np.ndarray  # int32

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, int]]) -> Pairs:
        array = np.array(sorted(set(pairs)), np.int32).reshape(-1, 2)
        return cls(array[:, 0].copy(), array[:, 1].copy())

    @classmethod
    def union(cls, parts: Iterable[Pairs]) -> Pairs:
        """Every pair of any of `parts`, once, sorted (as `of` would sort them)."""
        parts = list(parts)
        mentee = np.concatenate([np.zeros(0, np.int64), *(p.mentee for p in parts)])
        mentor = np.concatenate([np.zeros(0, np.int64), *(p.mentor for p in parts)])
        key = np.unique((mentee.astype(np.int64) << 32) | mentor.astype(np.int64))
        return cls((key >> 32).astype(np.int32), (key & 0xFFFFFFFF).astype(np.int32))

    def __len__(self) -> int:
        return len(self.mentee)

    def contains(self, i: int, j: int) -> bool:
        lo, hi = np.searchsorted(self.mentee, [i, i + 1])
        return bool(np.any(self.mentor[lo:hi] == j))


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
