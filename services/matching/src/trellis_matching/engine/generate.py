"""Synthetic cohorts for benchmarks and tests: realistic in the ways that make matching hard.

Demand is skewed (a few skills such as leadership or Python are what most mentees ask for, Zipf),
supply is flatter and more senior, people cluster in a handful of time zones whose local languages
come with them, and availability is working hours in local time, so pairs across the world share
little. A fixed seed gives identical profiles, person ids included.
"""

from __future__ import annotations

import uuid

import numpy as np

from trellis_matching.engine.candidates import Candidates
from trellis_matching.engine.profiles import Goal, MenteeProfile, MentorProfile, Slot
from trellis_matching.engine.taxonomy import (
    CAPACITY_SHARES,
    CATEGORIES,
    CATEGORY_OF,
    CHANNELS,
    FUNCTION_CATEGORY,
    FUNCTIONS,
    GOAL_TEMPLATES,
    INDUSTRIES,
    LEARNING_STYLES,
    LEVEL_NAMES,
    MENTORING_STYLES,
    SECOND_ENGLISH,
    SECOND_OTHER,
    SKILLS,
    ZONES,
)


def generate_cohort(
    n_mentees: int, n_mentors: int, seed: int
) -> tuple[list[MenteeProfile], list[MentorProfile]]:
    """Mentee and mentor profiles of one program, identical for the same arguments.

    Every random draw is made for the whole cohort at once (one numpy call per attribute), then
    the profiles are assembled; 120k profiles take seconds, not minutes.
    """
    rng = np.random.default_rng(seed)
    skill_rank = rng.permutation(len(SKILLS))  # which skills are popular this time
    demand = _zipf(skill_rank, 1.1)
    supply = _zipf(skill_rank, 0.6)  # experts spread wider than what learners ask for
    mentor_ids, mentee_ids = _ids(rng, n_mentors), _ids(rng, n_mentees)
    tutors = _People(rng, n_mentors, supply, senior=True)
    learners = _People(rng, n_mentees, demand, senior=False)
    # A third of the mentors report to another mentor; a quarter of the mentees to a mentor.
    mentor_boss = np.where(rng.random(n_mentors) < 0.33, rng.integers(0, n_mentors, n_mentors), -1)
    mentee_boss = np.where(rng.random(n_mentees) < 0.25, rng.integers(0, n_mentors, n_mentees), -1)
    topic_categories = np.argsort(rng.random((n_mentors, len(CATEGORIES))), axis=1)[:, :3]
    n_topic_categories = rng.integers(1, 4, n_mentors)
    topic_skills, found = _distinct_draws(rng, supply, n_mentors, 4)
    n_topic_skills = np.minimum(rng.integers(1, 5, n_mentors), found)
    mentoring = rng.integers(0, len(MENTORING_STYLES), n_mentors)
    capacity = rng.choice(5, n_mentors, p=CAPACITY_SHARES) + 1
    category_names = list(CATEGORIES)
    mentors = [
        MentorProfile(
            **tutors(j),
            person_id=mentor_ids[j],
            manager_id=mentor_ids[b] if (b := mentor_boss[j]) >= 0 and b != j else None,
            topics=tuple(category_names[c] for c in topic_categories[j, : n_topic_categories[j]])
            + tuple(SKILLS[x] for x in topic_skills[j, : n_topic_skills[j]]),
            mentoring_style=MENTORING_STYLES[mentoring[j]],
            capacity=int(capacity[j]),
        )
        for j in range(n_mentors)
    ]
    goals = _goals(rng, demand, learners.function)
    learning = rng.integers(0, len(LEARNING_STYLES), n_mentees)
    # About one mentee in 200 turned down a mentor before (the pair is excluded).
    declined = np.where(rng.random(n_mentees) < 0.005, rng.integers(0, n_mentors, n_mentees), -1)
    mentees = [
        MenteeProfile(
            **learners(i),
            person_id=mentee_ids[i],
            manager_id=mentor_ids[mentee_boss[i]] if mentee_boss[i] >= 0 else None,
            goals=goals[i],
            learning_style=LEARNING_STYLES[learning[i]],
            declined_with=frozenset([mentor_ids[declined[i]]] if declined[i] >= 0 else []),
        )
        for i in range(n_mentees)
    ]
    return mentees, mentors


def _ids(rng: np.random.Generator, n: int) -> list[uuid.UUID]:
    words = rng.integers(0, 2**63, (n, 2), dtype=np.int64).tolist()
    return [uuid.UUID(int=(hi << 64) | lo, version=4) for hi, lo in words]


def _zipf(rank: np.ndarray, exponent: float) -> np.ndarray:
    weight = 1.0 / (rank + 1.0) ** exponent
    return weight / weight.sum()


def _without_replacement(rng: np.random.Generator, weight: np.ndarray, k: int) -> np.ndarray:
    """Per row, k distinct column indices drawn proportionally to weight, in draw order
    (Gumbel top-k: the k largest log(weight) + Gumbel noise)."""
    keys = np.log(weight) + rng.gumbel(size=weight.shape)
    top = np.argpartition(-keys, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def _distinct_draws(
    rng: np.random.Generator, popularity: np.ndarray, n: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, up to k distinct indices drawn by popularity, and how many were found.

    Drawing with replacement and skipping repeats is sampling without replacement; 4k draws leave
    a row short only when a few items hold nearly all the weight, and then it just gets fewer.
    """
    draws = np.searchsorted(np.cumsum(popularity), rng.random((n, 4 * k)), side="right")
    draws = np.minimum(draws, len(popularity) - 1)
    order = np.argsort(draws, axis=1, kind="stable")
    ordered = np.take_along_axis(draws, order, axis=1)
    repeat = np.zeros(draws.shape, bool)
    np.put_along_axis(repeat, order[:, 1:], ordered[:, 1:] == ordered[:, :-1], axis=1)
    first = np.argsort(repeat, axis=1, kind="stable")[:, :k]  # first occurrences, in draw order
    return np.take_along_axis(draws, first, axis=1), np.minimum((~repeat).sum(axis=1), k)


def _choice(rng: np.random.Generator, cumulative: np.ndarray) -> np.ndarray:
    """One index per row of a row-wise cumulative distribution [n, options]."""
    return (rng.random((len(cumulative), 1)) > cumulative[:, :-1]).sum(axis=1)


class _People:
    """Attributes common to mentees and mentors, drawn for a whole side at once."""

    def __init__(
        self, rng: np.random.Generator, n: int, popularity: np.ndarray, *, senior: bool
    ) -> None:
        self.zone = rng.choice(len(ZONES), n, p=_ZONE_SHARES)
        first = _choice(rng, _LANGUAGE_CUMULATIVE[self.zone])
        self.first = [
            ZONES[z][2][f][0] for z, f in zip(self.zone.tolist(), first.tolist(), strict=True)
        ]
        english = np.array([tag.startswith("en") for tag in self.first])
        self.second = np.where(
            english,
            np.where(rng.random(n) < SECOND_OTHER, rng.integers(0, len(_SECOND) - 1, n), -1),
            np.where(rng.random(n) < SECOND_ENGLISH, len(_SECOND) - 1, -1),
        )
        self.seniority = rng.binomial(10, 0.62 if senior else 0.3, n)
        self.function = rng.integers(0, len(FUNCTIONS), n)
        self.industry = rng.choice(len(INDUSTRIES), n, p=_INDUSTRY_SHARES)
        width = 8 if senior else 6
        self.skills, found = _distinct_draws(rng, popularity, n, width)
        wanted = rng.integers(3, 9, n) if senior else rng.integers(2, 7, n)
        self.n_skills = np.minimum(wanted, found)
        # Mentors mostly hold skills at advanced or expert; mentees at beginner or intermediate.
        level_p = (0.05, 0.2, 0.45, 0.3) if senior else (0.4, 0.4, 0.15, 0.05)
        self.levels = rng.choice(4, (n, width), p=level_p)
        self.channels = np.argsort(rng.random((n, len(CHANNELS))), axis=1)[:, :2]
        self.n_channels = rng.integers(1, 3, n)
        self.slots = _Slots(rng, n)
        # A few mentees opt in to one stated preference.
        self.preference = np.where((rng.random(n) < 0.1) & (not senior), rng.integers(0, 3, n), -1)
        self.preferred_industry = rng.integers(0, len(INDUSTRIES), n)
        self.preferred_style = rng.integers(0, len(MENTORING_STYLES), n)

    def __call__(self, i: int) -> dict:
        first = self.first[i]
        languages = (first,) if self.second[i] < 0 else (first, _SECOND[self.second[i]])
        preference = {}
        if (kind := self.preference[i]) == 0:
            preference["industry"] = INDUSTRIES[self.preferred_industry[i]]
        elif kind == 1:
            preference["language"] = first
        elif kind == 2:
            preference["mentoring_style"] = MENTORING_STYLES[self.preferred_style[i]]
        n_skills = self.n_skills[i]
        skills = zip(
            self.skills[i, :n_skills].tolist(), self.levels[i, :n_skills].tolist(), strict=True
        )
        return {
            "languages": languages,
            "locale": first,
            "time_zone": ZONES[self.zone[i]][0],
            "availability": self.slots(i),
            "skills": {SKILLS[s]: LEVEL_NAMES[lv] for s, lv in skills},
            "seniority_level": int(self.seniority[i]),
            "industry": INDUSTRIES[self.industry[i]],
            "function": FUNCTIONS[self.function[i]],
            "communication": tuple(CHANNELS[c] for c in self.channels[i, : self.n_channels[i]]),
            "preferences": preference,
        }


class _Slots:
    """Two to five weekly slots of 30 min to 2 h, mostly weekday working hours, local time."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self.count = rng.integers(2, 6, n)
        self.weekday = rng.choice(7, (n, 5), p=(0.19, 0.2, 0.2, 0.2, 0.17, 0.02, 0.02))
        evening = rng.random((n, 5)) < 0.15
        self.start = np.where(evening, rng.integers(36, 44, (n, 5)), rng.integers(16, 34, (n, 5)))
        self.end = np.minimum(self.start + rng.integers(1, 5, (n, 5)), 48)  # in half-hours

    def __call__(self, i: int) -> tuple[Slot, ...]:
        c = self.count[i]
        return tuple(
            Slot(d, _CLOCK[s], _CLOCK[e])
            for d, s, e in zip(
                self.weekday[i, :c].tolist(),
                self.start[i, :c].tolist(),
                self.end[i, :c].tolist(),
                strict=True,
            )
        )


def _goals(
    rng: np.random.Generator, popularity: np.ndarray, function: np.ndarray
) -> list[tuple[Goal, ...]]:
    """One to three goals each, a category and a sentence naming skills of that category."""
    n = len(function)
    count = rng.choice(3, n, p=(0.5, 0.35, 0.15)) + 1
    category_names = list(CATEGORIES)
    category_of_skill = np.array([category_names.index(CATEGORY_OF[s]) for s in SKILLS])
    own = np.array([category_names.index(FUNCTION_CATEGORY[f]) for f in FUNCTIONS])[function]
    # People often want to grow in their own function's area; otherwise in what is in demand.
    drawn = category_of_skill[rng.choice(len(SKILLS), (n, 3), p=popularity)]
    category = np.where(rng.random((n, 3)) < 0.4, own[:, None], drawn)
    members = np.array([[SKILLS.index(s) for s in CATEGORIES[c]] for c in category_names])
    weight = popularity[members[category]]  # [n, 3, 25]
    named = _without_replacement(rng, weight.reshape(n * 3, -1), 3).reshape(n, 3, 3)
    template = rng.integers(0, len(GOAL_TEMPLATES), (n, 3))
    out = []
    for i in range(n):
        goals = []
        for g in range(count[i]):
            c = category[i, g]
            a, b, d = (SKILLS[members[c, x]] for x in named[i, g].tolist())
            sentence = GOAL_TEMPLATES[template[i, g]].format(a=a, b=b, c=d)
            goals.append(Goal(category_names[c], sentence))
        out.append(tuple(goals))
    return out


_ZONE_SHARES = np.array([z[1] for z in ZONES]) / sum(z[1] for z in ZONES)
_INDUSTRY_SHARES = _zipf(np.arange(len(INDUSTRIES)), 0.8)
_LANGUAGE_CUMULATIVE = np.array(
    [np.cumsum([share for _, share in z[2]] + [0.0] * (3 - len(z[2]))) for z in ZONES]
)
_SECOND = ("es", "fr", "de", "hi", "zh-Hans", "pt", "en")  # the last: non-English speakers' "en"
_CLOCK = tuple(f"{h // 2:02d}:{30 * (h % 2):02d}" for h in range(49))


def random_candidates(n_mentees: int, n_mentors: int, k: int, seed: int) -> Candidates:
    """A Candidates-shaped graph without profiles, for solver tests and fast benchmarks.

    Each mentee gets up to k distinct mentors drawn by popularity (a few mentors are everyone's
    favourites, as in real cohorts), scored by mentor appeal plus a per-pair affinity. The pairs
    left out are treated as no better than the worst one kept, as top-k selection guarantees.
    """
    rng = np.random.default_rng(seed)
    appeal = rng.beta(2, 5, n_mentors).astype(np.float32)
    popularity = _zipf(rng.permutation(n_mentors), 0.5)
    draws = np.searchsorted(np.cumsum(popularity), rng.random((n_mentees, 2 * k)), side="right")
    draws = np.minimum(draws, n_mentors - 1).astype(np.int32)
    draws.sort(axis=1)
    repeat = np.zeros_like(draws, bool)
    repeat[:, 1:] = draws[:, 1:] == draws[:, :-1]
    first = np.argsort(repeat, axis=1, kind="stable")[:, :k]  # distinct draws first
    mentor = np.take_along_axis(draws, first, axis=1)
    keep = ~np.take_along_axis(repeat, first, axis=1)
    taste = rng.random((n_mentees, 8), dtype=np.float32)
    trait = rng.random((n_mentors, 8), dtype=np.float32)
    affinity = np.einsum("nkd,nd->nk", trait[mentor], taste) / 4 - 0.5
    noise = rng.random(mentor.shape, dtype=np.float32)
    score = np.clip(0.4 * appeal[mentor] + 0.4 * affinity + 0.2 * noise, 0, 1).astype(np.float32)
    mentee = np.broadcast_to(np.arange(n_mentees, dtype=np.int32)[:, None], mentor.shape)
    worst = np.where(keep, score, np.inf).min(axis=1)
    everyone = keep.sum(axis=1) >= n_mentors
    return Candidates(
        n_mentees=n_mentees,
        n_mentors=n_mentors,
        mentee=mentee[keep],
        mentor=mentor[keep],
        score=score[keep],
        k=k,
        pruned_best=np.where(everyone, -np.inf, worst).astype(np.float32),
    )
