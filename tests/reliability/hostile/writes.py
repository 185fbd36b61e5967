"""Valid writes of every documented JSON operation, for the probes that must get past
validation to the rule they test (mass assignment, over-long strings, the isolation sweep)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.reliability.hostile.conftest import DEAD_ENDPOINT, Platform, Tenant
from trellis_infra.pytest_plugin import bearer


def _start() -> str:
    return (datetime.now(UTC) + timedelta(days=20)).replace(microsecond=0, tzinfo=None).isoformat()


def valid_bodies(t: Tenant) -> dict[str, Any]:
    """A valid JSON body per write (METHOD template) in `t`: hostile requests start from these,
    so they get past validation to the rule under test."""
    return {
        "POST /profiles/organizations": {"name": "Another"},
        "POST /profiles/programs": {"name": "Another"},
        "POST /profiles/people": {
            "full_name": "Another Person",
            "email": f"another.{uuid.uuid4().hex[:8]}@example.org",
        },
        "POST /profiles/introductions": {
            "from_person_id": t.ids["mentee2"],
            "to_person_id": t.ids["mentee"],
        },
        "PUT /notifications/preferences": {"digest": "daily"},
        "PUT /notifications/admin-digest": {"enabled": True},
        "POST /notifications/webhooks": {
            "url": DEAD_ENDPOINT,
            "event_types": ["trellis.profiles.person.updated.v1"],
        },
        "PATCH /profiles/programs/{program_id}": {"name": "Taken over"},
        "POST /profiles/programs/{program_id}/enrollments": {
            "person_id": t.ids["admin_person"],
            "role": "mentee",
        },
        "PATCH /profiles/enrollments/{enrollment_id}": {"capacity": 1},
        "PATCH /profiles/people/{person_id}": {"headline": "Taken over"},
        "POST /profiles/people/{person_id}/achievements": {
            "kind": "other",
            "title": "Planted",
            "achieved_on": str(date.today() - timedelta(days=1)),
        },
        "POST /matching/programs/{program_id}/proposals": {
            "mentee": t.ids["mentee2"],
            "mentor": t.ids["mentor"],
        },
        "POST /matching/programs/{program_id}/requests": {
            "mentor": t.ids["mentor"],
            "mentee": t.ids["mentee2"],
        },
        "POST /matching/programs/{program_id}/runs": {"mode": "optimal", "dry_run": True},
        "POST /matching/proposals/{proposal_id}/decline": {"reason": "Taken over"},
        "POST /sessions/mentorships/{mentorship_id}/pause": {"reason": "Taken over"},
        "POST /sessions/mentorships/{mentorship_id}/complete": {
            "rating": 1,
            "goals_met": "not_at_all",
            "would_recommend": False,
        },
        "POST /sessions/mentorships/{mentorship_id}/end": {"reason": "Taken over"},
        "POST /sessions/mentorships/{mentorship_id}/goals": {"title": "Planted"},
        "PUT /sessions/mentorships/{mentorship_id}/agreement": {"goals": ["Planted"]},
        "POST /sessions/mentorships/{mentorship_id}/agreement/sign": {"version": 1},
        "POST /sessions/mentorships/{mentorship_id}/meetings": {
            "start": _start(),
            "time_zone": "UTC",
        },
        "POST /sessions/mentorships/{mentorship_id}/checkins": {"rating": 1},
        "POST /sessions/mentorships/{mentorship_id}/feedback": {
            "rating": 1,
            "visibility": "shared",
        },
        "PATCH /sessions/goals/{goal_id}": {"title": "Taken over"},
        "POST /sessions/goals/{goal_id}/progress": {"percent": 99},
        "POST /sessions/goals/{goal_id}/milestones": {"title": "Planted"},
        "POST /sessions/meetings/{meeting_id}/reschedule": {"start": _start(), "time_zone": "UTC"},
        "POST /sessions/meetings/{meeting_id}/cancel": {},
        "POST /sessions/meetings/{meeting_id}/complete": {},
        "PUT /sessions/meetings/{meeting_id}/private-note": {"body": "Planted"},
    }


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its $ref followed, and an optional (anyOf [x, null]) taken as x."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return resolve(document, document["components"]["schemas"][name])
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return resolve(document, option)
    return schema


def json_writes(p: Platform) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, template, body schema) of every documented operation taking a JSON body."""
    found = []
    for document in p.openapi().values():
        for template, operations in document["paths"].items():
            for method, operation in operations.items():
                content = operation.get("requestBody", {}).get("content", {})
                if "application/json" in content:
                    schema = resolve(document, content["application/json"]["schema"])
                    found.append((method.upper(), template, schema))
    return found


# Path parameter -> the tenant resource a write in `valid_bodies` acts on.
_WRITE_TARGETS = {
    "program_id": "program",
    "enrollment_id": "mentee2_enrollment",
    "person_id": "mentee2",
    "proposal_id": "proposal",
    "mentorship_id": "mentorship",
    "goal_id": "goal",
    "meeting_id": "meeting",
}


def write_url(template: str, t: Tenant) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: t.ids[_WRITE_TARGETS[m.group(1)]], template)


def caller_for(template: str, t: Tenant) -> dict[str, str]:
    """Someone a write admits (role checks come before the body is validated): a platform admin
    for organizations, a participant for sessions' writes, the admin (also a person) otherwise."""
    if template == "/profiles/organizations":
        return bearer(org=t.org, roles=["platform_admin"])
    return t.as_("mentee") if template.startswith("/sessions") else t.admin
