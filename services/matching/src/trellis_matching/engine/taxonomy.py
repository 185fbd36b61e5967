"""What synthetic people are made of: a skill taxonomy, where people live and what they speak,
industries, functions and styles, with the shares that make them realistic.

Shared by the cohort generator (benchmarks, tests) and the demo organization.
"""

from __future__ import annotations

CATEGORIES: dict[str, tuple[str, ...]] = {
    "engineering": (
        "Python", "Java", "Go", "Rust", "TypeScript", "JavaScript", "C++", "Kotlin", "Swift",
        "SQL", "system design", "distributed systems", "microservices", "API design", "testing",
        "code review", "debugging", "performance tuning", "concurrency", "React", "Node.js",
        "mobile development", "frontend architecture", "backend architecture", "refactoring",
    ),
    "data": (
        "machine learning", "deep learning", "statistics", "data engineering", "data analysis",
        "data visualization", "experimentation", "A/B testing", "causal inference", "pandas",
        "Spark", "dbt", "forecasting", "natural language processing", "computer vision",
        "recommendation systems", "MLOps", "feature engineering", "data governance",
        "Bayesian modelling", "time series", "SQL analytics", "Tableau", "Looker", "R",
    ),
    "infrastructure": (
        "Kubernetes", "Terraform", "AWS", "Google Cloud", "Azure", "Linux", "networking",
        "observability", "incident response", "site reliability", "CI/CD", "Docker",
        "security engineering", "identity and access", "cost optimisation", "databases",
        "PostgreSQL", "Kafka", "capacity planning", "disaster recovery", "edge computing",
        "service mesh", "platform engineering", "release engineering", "on-call practice",
    ),
    "product": (
        "product strategy", "roadmapping", "user research", "discovery", "prioritisation",
        "product analytics", "pricing", "go-to-market", "product discovery interviews",
        "requirements writing", "stakeholder management", "OKRs", "product-led growth",
        "platform products", "B2B SaaS", "marketplaces", "growth loops", "retention",
        "onboarding design", "competitive analysis", "product vision", "jobs to be done",
        "metrics design", "launch planning", "product operations",
    ),
    "design": (
        "UX design", "UI design", "interaction design", "design systems", "prototyping",
        "Figma", "usability testing", "information architecture", "accessibility",
        "visual design", "content design", "service design", "design critique",
        "motion design", "design research", "brand design", "illustration", "typography",
        "design leadership", "design ops", "mobile design", "workshop facilitation",
        "journey mapping", "design strategy", "inclusive design",
    ),
    "leadership": (
        "people management", "hiring", "coaching", "giving feedback", "delegation",
        "performance reviews", "team building", "managing managers", "strategy",
        "decision making", "change management", "conflict resolution", "org design",
        "leading remote teams", "executive presence", "first-time management",
        "managing up", "vision setting", "culture building", "mentoring others",
        "succession planning", "budgeting", "cross-functional leadership", "influence",
        "crisis leadership",
    ),
    "communication": (
        "public speaking", "presentation skills", "technical writing", "storytelling",
        "negotiation", "facilitation", "active listening", "written communication",
        "difficult conversations", "persuasion", "meeting design", "asynchronous communication",
        "cross-cultural communication", "executive communication", "documentation",
        "pitching", "interviewing", "professional networking", "personal branding",
        "media training",
        "conference talks", "blogging", "newsletter writing", "demo skills", "plain language",
    ),
    "business": (
        "finance fundamentals", "financial modelling", "accounting", "business strategy",
        "operations", "supply chain", "procurement", "legal basics", "compliance",
        "risk management", "sales", "account management", "customer success",
        "partnerships", "business development", "marketing", "content marketing", "SEO",
        "brand strategy", "market research", "entrepreneurship", "fundraising",
        "unit economics", "vendor management", "project management",
    ),
    "career": (
        "career planning", "promotion readiness", "career change", "job search",
        "salary negotiation", "returning to work", "work-life balance", "time management",
        "productivity", "resilience", "imposter syndrome", "building confidence",
        "moving into management", "staff engineer path", "switching to product",
        "switching to data", "freelancing", "learning how to learn", "goal setting",
        "personal finance", "relocation", "studying for certifications", "portfolio building",
        "side projects", "burnout prevention",
    ),
    "diversity and inclusion": (
        "inclusive leadership", "allyship", "employee resource groups", "bias in hiring",
        "inclusive meetings", "neurodiversity at work", "women in tech", "LGBTQ+ inclusion",
        "accessibility advocacy", "equitable promotion", "psychological safety",
        "first-generation professionals", "cultural intelligence", "sponsorship",
        "inclusive product design", "pay equity", "belonging", "inclusive language",
        "global teams", "parental leave transition", "veterans in tech", "mentoring circles",
        "community building", "diverse hiring pipelines", "DEI metrics",
    ),
    "research": (
        "academic writing", "literature review", "grant writing", "peer review",
        "research design", "qualitative research", "survey design", "lab management",
        "reproducibility", "scientific computing", "research ethics", "patents",
        "technology transfer", "industry research", "PhD to industry", "open source",
        "standards work", "benchmarking", "simulation", "optimisation",
        "operations research", "quantum computing", "robotics", "bioinformatics", "HPC",
    ),
    "healthcare": (
        "clinical informatics", "health data", "medical devices", "regulatory affairs",
        "clinical trials", "patient experience", "digital health", "health economics",
        "pharmacovigilance", "HIPAA", "nursing leadership", "hospital operations",
        "public health", "telemedicine", "health policy", "biostatistics",
        "care coordination", "quality improvement", "medical writing", "genomics",
        "mental health at work", "health product design", "clinical safety",
        "lab operations", "interoperability",
    ),
}  # fmt: skip
SKILLS = tuple(s for skills in CATEGORIES.values() for s in skills)
CATEGORY_OF = {s: c for c, skills in CATEGORIES.items() for s in skills}
LEVEL_NAMES = ("beginner", "intermediate", "advanced", "expert")

# (IANA zone, share of the workforce, languages spoken there as BCP 47 tags with their shares)
ZONES: tuple[tuple[str, float, tuple[tuple[str, float], ...]], ...] = (
    ("America/New_York", 0.16, (("en-US", 0.9), ("es-US", 0.1))),
    ("America/Chicago", 0.07, (("en-US", 0.88), ("es-US", 0.12))),
    ("America/Denver", 0.03, (("en-US", 0.9), ("es-US", 0.1))),
    ("America/Los_Angeles", 0.12, (("en-US", 0.8), ("es-US", 0.12), ("zh-Hans", 0.08))),
    ("America/Mexico_City", 0.04, (("es-MX", 1.0),)),
    ("America/Sao_Paulo", 0.05, (("pt-BR", 1.0),)),
    ("Europe/London", 0.12, (("en-GB", 0.95), ("hi", 0.05))),
    ("Europe/Berlin", 0.07, (("de-DE", 1.0),)),
    ("Europe/Paris", 0.05, (("fr-FR", 1.0),)),
    ("Europe/Madrid", 0.03, (("es-ES", 1.0),)),
    ("Africa/Lagos", 0.03, (("en-NG", 1.0),)),
    ("Asia/Kolkata", 0.11, (("en-IN", 0.6), ("hi", 0.4))),
    ("Asia/Singapore", 0.04, (("en-SG", 0.7), ("zh-Hans", 0.3))),
    ("Asia/Tokyo", 0.04, (("ja-JP", 1.0),)),
    ("Australia/Sydney", 0.04, (("en-AU", 1.0),)),
)
SECOND_ENGLISH = 0.75  # share of people whose first language is not English who also speak it
SECOND_OTHER = 0.12  # share of English speakers with a second language

INDUSTRIES = (
    "software", "financial services", "healthcare", "retail", "manufacturing", "consulting",
    "telecommunications", "public sector", "education", "energy", "media", "logistics",
)  # fmt: skip
FUNCTIONS = (
    "engineering", "data", "product", "design", "sales", "marketing", "finance", "people",
    "operations", "legal", "customer success", "research",
)  # fmt: skip
FUNCTION_CATEGORY = {
    "engineering": "engineering", "data": "data", "product": "product", "design": "design",
    "sales": "business", "marketing": "business", "finance": "business", "people": "leadership",
    "operations": "business", "legal": "business", "customer success": "communication",
    "research": "research",
}  # fmt: skip
LEARNING_STYLES = ("hands on", "visual", "auditory", "reading", "mixed")
MENTORING_STYLES = ("coaching", "directive", "sounding board", "mixed")
CHANNELS = ("video", "chat", "in person", "phone")
GOAL_TEMPLATES = (
    "Get better at {a} and {b}",
    "Learn {a} for my next role",
    "Grow in {a}, {b} and {c}",
    "Become confident with {a}",
    "Move from basics to solid {a} and {b}",
)
CAPACITY_SHARES = (0.3, 0.3, 0.2, 0.1, 0.1)  # capacity 1..5
