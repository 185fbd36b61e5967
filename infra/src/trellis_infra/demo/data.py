"""The demo's organization, generated from a seed: Northfield University's alumni (mentors) and
students (mentees), with the variety that makes matching interesting.

Demand is skewed: most students ask for a few careers and skills (software, data, finance; Python,
SQL), alumni are spread more evenly. Students cluster on the campus's time zone with a share of
international students; alumni live around the world. Languages come with the region, everyone
speaks English. Availability is local evenings and weekends. The same seed gives the same people.
"""

from __future__ import annotations

import csv
import io
import random
import unicodedata
from dataclasses import dataclass, field

CAMPUS_ZONE = "America/New_York"

# field -> (industry, function, skills, most asked first, topics alumni offer)
FIELDS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "software": ("Technology", "Engineering",
                 ("Python", "JavaScript", "system design", "SQL", "cloud computing", "Java",
                  "mobile development", "testing"),
                 ("technical interviews", "first job")),
    "data": ("Technology", "Data Science",
             ("SQL", "Python", "statistics", "machine learning", "data visualization", "Excel",
              "experimentation"),
             ("technical interviews", "graduate school")),
    "finance": ("Financial Services", "Finance",
                ("financial modeling", "Excel", "valuation", "accounting",
                 "investment analysis", "private equity"),
                ("recruiting season", "networking")),
    "consulting": ("Consulting", "Strategy",
                   ("case interviews", "market research", "presentation skills", "Excel",
                    "business strategy"),
                   ("case practice", "networking")),
    "product": ("Technology", "Product",
                ("product management", "user research", "roadmapping", "SQL",
                 "stakeholder management"),
                ("career change", "first job")),
    "design": ("Technology", "Design",
               ("UX design", "Figma", "user research", "prototyping", "design systems"),
               ("portfolio review", "first job")),
    "marketing": ("Consumer Goods", "Marketing",
                  ("digital marketing", "brand strategy", "content strategy", "SEO",
                   "marketing analytics"),
                  ("first job", "networking")),
    "healthcare": ("Healthcare", "Research",
                   ("clinical research", "public health", "biostatistics",
                    "healthcare management"),
                   ("graduate school", "medical school")),
    "policy": ("Government", "Policy",
               ("policy analysis", "grant writing", "nonprofit management", "public speaking"),
               ("graduate school", "public service")),
    "entrepreneurship": ("Startups", "Founder",
                         ("fundraising", "sales", "business planning", "product management"),
                         ("starting a company", "networking")),
}  # fmt: skip
GENERAL_SKILLS = ("public speaking", "negotiation", "leadership", "writing", "networking")
# Students' interest in each field (skewed) and alumni's presence in it (flatter).
MENTEE_FIELDS = {
    "software": 22, "data": 18, "finance": 14, "consulting": 10, "product": 8, "marketing": 7,
    "healthcare": 7, "design": 6, "policy": 4, "entrepreneurship": 4,
}  # fmt: skip
MENTOR_FIELDS = {
    "software": 16, "finance": 15, "consulting": 12, "data": 11, "product": 10, "healthcare": 10,
    "marketing": 9, "policy": 7, "design": 5, "entrepreneurship": 5,
}  # fmt: skip

# zone -> (share of students, share of alumni, region of names, languages besides English)
ZONES: dict[str, tuple[int, int, str, tuple[str, ...]]] = {
    "America/New_York": (68, 30, "us", ()),
    "America/Chicago": (5, 8, "us", ()),
    "America/Los_Angeles": (5, 14, "us", ()),
    "America/Toronto": (2, 5, "us", ("fr",)),
    "America/Mexico_City": (3, 4, "hispanic", ("es",)),
    "America/Sao_Paulo": (3, 4, "brazil", ("pt",)),
    "Europe/London": (3, 10, "uk", ()),
    "Europe/Berlin": (1, 5, "german", ("de",)),
    "Africa/Lagos": (2, 2, "nigeria", ("yo",)),
    "Asia/Kolkata": (5, 6, "india", ("hi",)),
    "Asia/Shanghai": (3, 3, "china", ("zh",)),
    "Asia/Singapore": (0, 9, "china", ("zh",)),
}
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "us": (("Ava", "Liam", "Maya", "Noah", "Olivia", "Ethan", "Chloe", "Mason", "Grace", "Lucas",
            "Harper", "Elijah", "Zoe", "Caleb", "Aaliyah", "Jordan", "Nora", "Isaac", "Leah",
            "Marcus", "Hannah", "Owen", "Jasmine", "Dylan"),
           ("Johnson", "Williams", "Brown", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
            "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
            "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright", "Scott")),
    "uk": (("Oliver", "Amelia", "George", "Isla", "Harry", "Freya", "Jack", "Poppy", "Alfie",
            "Imogen"),
           ("Smith", "Jones", "Evans", "Roberts", "Hughes", "Edwards", "Wood", "Hall", "Green",
            "Baker")),
    "hispanic": (("Sofía", "Mateo", "Valentina", "Santiago", "Camila", "Diego", "Lucía",
                  "Alejandro", "Isabela", "Emiliano"),
                 ("García", "Hernández", "López", "Martínez", "González", "Rodríguez", "Pérez",
                  "Sánchez", "Ramírez", "Flores")),
    "brazil": (("Ana", "João", "Beatriz", "Pedro", "Larissa", "Gabriel", "Mariana", "Rafael"),
               ("Silva", "Santos", "Oliveira", "Souza", "Lima", "Costa", "Ribeiro", "Almeida")),
    "german": (("Lena", "Jonas", "Mia", "Felix", "Leonie", "Maximilian", "Clara", "Paul"),
               ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Wagner",
                "Hoffmann")),
    "nigeria": (("Chiamaka", "Emeka", "Adaeze", "Tunde", "Ngozi", "Femi", "Amara", "Kelechi"),
                ("Okafor", "Adeyemi", "Nwosu", "Balogun", "Eze", "Okonkwo", "Afolabi", "Obi")),
    "india": (("Aarav", "Ananya", "Vihaan", "Priya", "Arjun", "Diya", "Rohan", "Isha", "Kabir",
               "Meera"),
              ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Mehta", "Rao", "Kapoor",
               "Desai")),
    "china": (("Wei", "Mei", "Jun", "Xin", "Hao", "Lin", "Yu", "Jia", "Chen", "Ying"),
              ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou")),
}  # fmt: skip
COMPANIES = ("Acme Analytics", "Harbor Capital", "Bluefin Health", "Northwind Labs",
             "Summit Partners", "Lumen Software", "Cedar & Pine Consulting", "Orbit Mobility",
             "Greenleaf Foods", "Civic Works", "Beacon Bank", "Atlas Robotics", "Kestrel Media",
             "Meridian Pharma", "Fieldstone Ventures", "Pioneer Energy")  # fmt: skip
TITLES = ("Associate", "Analyst", "Senior Associate", "Manager", "Senior Manager", "Director",
          "Principal", "Vice President", "Head", "Partner")  # fmt: skip
MAJORS = {"software": "Computer Science", "data": "Statistics", "finance": "Economics",
          "consulting": "Economics", "product": "Information Science", "design": "Design",
          "marketing": "Business", "healthcare": "Biology", "policy": "Public Policy",
          "entrepreneurship": "Business"}  # fmt: skip
CAREERS = {"software": "software engineering", "data": "data science", "finance": "finance",
           "consulting": "consulting", "product": "product management", "design": "UX design",
           "marketing": "marketing", "healthcare": "health research", "policy": "public policy",
           "entrepreneurship": "startup"}  # fmt: skip
GOAL_TEMPLATES = (
    ("job search", "Land a {career} internship and get better at {skill}"),
    ("skills", "Learn {skill} well enough to use it in a {career} role"),
    ("career", "Understand what a first job in {career} looks like, day to day"),
    ("job search", "Prepare for {career} interviews, especially {skill}"),
    ("graduate school", "Decide between graduate school and a {career} job"),
    ("skills", "Build a portfolio project that shows {skill}"),
)
TOPICS = ("career change", "networking", "job search", "graduate school", "work-life balance")
STYLES = ("coaching", "directive", "sponsoring", "sounding_board", "mixed")
LEARNING = ("visual", "auditory", "reading", "hands_on", "mixed")
CHANNELS = ("video", "chat", "phone", "email", "in_person")
CAPACITY = {1: 20, 2: 35, 3: 25, 4: 12, 5: 8}
CSV_COLUMNS = (
    "external_id", "full_name", "email", "headline", "time_zone", "locale", "languages", "skills",
    "interests", "seniority_level", "industry", "function", "learning_style", "mentoring_style",
    "communication", "availability", "program_id", "role", "capacity", "topics", "goals",
)  # fmt: skip


@dataclass
class Person:
    external_id: str
    role: str  # "mentor" (an alumnus) or "mentee" (a student)
    full_name: str
    email: str
    headline: str
    time_zone: str
    languages: list[str]
    field: str
    skills: list[tuple[str, str]]
    seniority: int
    availability: list[tuple[int, str, str]]
    communication: list[str]
    style: str
    capacity: int | None = None
    topics: list[str] = field(default_factory=list)
    goals: list[tuple[str, str]] = field(default_factory=list)

    @property
    def first_name(self) -> str:
        return self.full_name.split()[0]

    def body(self) -> dict:
        """The person as a `POST /profiles/people` body."""
        return {
            "external_id": self.external_id,
            "full_name": self.full_name,
            "email": self.email,
            "headline": self.headline,
            "time_zone": self.time_zone,
            "languages": self.languages,
            "skills": [{"name": name, "level": level} for name, level in self.skills],
            "interests": [FIELDS[self.field][1].lower()],
            "seniority_level": self.seniority,
            "learning_style": self.style,
            "communication": self.communication,
            "availability": [{"weekday": d, "start": a, "end": b} for d, a, b in self.availability],
        }

    def row(self, program_id: str) -> dict[str, str]:
        """The person as a CSV row of the import format (lists ";"-separated)."""
        mentor = self.role == "mentor"
        industry, function, _, _ = FIELDS[self.field]
        return {
            "external_id": self.external_id,
            "full_name": self.full_name,
            "email": self.email,
            "headline": self.headline,
            "time_zone": self.time_zone,
            "locale": "en",
            "languages": ";".join(self.languages),
            "skills": ";".join(f"{name}:{level}" for name, level in self.skills),
            "interests": FIELDS[self.field][1].lower(),
            "seniority_level": str(self.seniority),
            "industry": industry if mentor else "",
            "function": function if mentor else "",
            "learning_style": "" if mentor else self.style,
            "mentoring_style": self.style if mentor else "",
            "communication": ";".join(self.communication),
            "availability": ";".join(f"{d} {a}-{b}" for d, a, b in self.availability),
            "program_id": program_id,
            "role": self.role,
            "capacity": str(self.capacity) if mentor else "",
            "topics": ";".join(self.topics),
            "goals": ";".join(f"{category}:{text}" for category, text in self.goals),
        }


@dataclass
class Cohort:
    seed: int
    mentors: list[Person]
    mentees: list[Person]
    late: Person  # a student who registers on their own after the import

    @property
    def people(self) -> list[Person]:
        return self.mentors + self.mentees

    def by_external_id(self) -> dict[str, Person]:
        return {p.external_id: p for p in [*self.people, self.late]}

    def csv(self, program_id: str) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(p.row(program_id) for p in self.people)
        return out.getvalue()


def rng(seed: int, *keys: object) -> random.Random:
    """A generator for one decision: the same seed and keys give the same choices, whatever
    order the demo's concurrent steps run in."""
    return random.Random(":".join(map(str, (seed, *keys))))


def _pick(r: random.Random, weights: dict) -> str:
    return r.choices(list(weights), weights=list(weights.values()))[0]


def _zipf(r: random.Random, items: tuple[str, ...], k: int) -> list[str]:
    """k distinct items, the first ones much more likely (popularity ~ 1/rank)."""
    weights = [1 / (i + 1) for i in range(len(items))]
    chosen: dict[str, None] = {}
    while len(chosen) < min(k, len(items)):
        chosen[r.choices(items, weights=weights)[0]] = None
    return list(chosen)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _person(r: random.Random, role: str, n: int, taken: set[str]) -> Person:
    mentor = role == "mentor"
    zone = _pick(r, {z: v[1 if mentor else 0] for z, v in ZONES.items()})
    _, _, region, languages = ZONES[zone]
    firsts, lasts = NAMES[region]
    name = f"{r.choice(firsts)} {r.choice(lasts)}"
    handle = _ascii(name).replace(" ", ".")
    domain = "alumni.northfield.edu" if mentor else "students.northfield.edu"
    email = f"{handle}@{domain}"
    suffix = 2
    while email in taken:
        email, suffix = f"{handle}{suffix}@{domain}", suffix + 1
    taken.add(email)
    area = _pick(r, MENTOR_FIELDS if mentor else MENTEE_FIELDS)
    _, function, skills, topics = FIELDS[area]
    if mentor:
        graduated = r.randint(1996, 2021)
        seniority = min(10, max(3, (2026 - graduated) // 3 + r.randint(1, 3)))
        title = TITLES[min(len(TITLES) - 1, max(0, seniority - 3 + r.randint(-1, 1)))]
        headline = f"Class of {graduated} · {title}, {function} at {r.choice(COMPANIES)}"
        levels = ("advanced", "expert")
        own = [(s, r.choice(levels)) for s in _zipf(r, skills, r.randint(3, 5))]
        own += [(s, "advanced") for s in r.sample(GENERAL_SKILLS, r.randint(1, 2))]
        slots = r.sample([(d, "18:30", "21:00") for d in range(5)], r.randint(1, 3))
        slots += [(5, "09:00", "12:00")] if r.random() < 0.5 else []
        return Person(
            external_id=f"A{n:04d}",
            role=role,
            full_name=name,
            email=email,
            headline=headline,
            time_zone=zone,
            languages=["en", *languages],
            field=area,
            skills=own,
            seniority=seniority,
            availability=sorted(slots),
            communication=r.sample(CHANNELS, r.randint(1, 3)),
            style=r.choice(STYLES),
            capacity=_pick(r, CAPACITY),
            topics=list(dict.fromkeys([*topics, *r.sample(TOPICS, 2)])),
        )
    year = r.randint(2027, 2030)
    headline = f"{MAJORS[area]} '{year % 100}"
    wanted = _zipf(r, skills, r.randint(1, 3))
    own = [(s, r.choice(("beginner", "intermediate"))) for s in _zipf(r, skills, 2)]
    goals = []
    for skill in wanted[:2]:
        category, text = r.choice(GOAL_TEMPLATES)
        goals.append((category, text.format(career=CAREERS[area], skill=skill)))
    slots = r.sample([(d, "16:00", "21:00") for d in range(5)], r.randint(2, 4))
    slots += [(6, "10:00", "16:00")] if r.random() < 0.6 else []
    return Person(
        external_id=f"S{n:04d}",
        role=role,
        full_name=name,
        email=email,
        headline=headline,
        time_zone=zone,
        languages=["en", *languages],
        field=area,
        skills=own,
        # Seniors and graduate students (1) a notch above the younger students (0).
        seniority=1 if year == 2027 else 0,
        availability=sorted(slots),
        communication=r.sample(CHANNELS[:3], r.randint(1, 2)),
        style=r.choice(LEARNING),
        goals=goals,
    )


def generate(*, mentors: int = 300, mentees: int = 1200, seed: int = 2027) -> Cohort:
    """The organization's people; the same arguments give the same people."""
    r = random.Random(seed)
    taken: set[str] = set()
    return Cohort(
        seed=seed,
        mentors=[_person(r, "mentor", n, taken) for n in range(1, mentors + 1)],
        mentees=[_person(r, "mentee", n, taken) for n in range(1, mentees + 1)],
        late=_person(r, "mentee", mentees + 1, taken),
    )
