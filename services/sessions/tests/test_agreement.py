"""The agreement: drafted by the participants, versioned, signed by both on the same version, and
signed again after any change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_infra.pytest_plugin import eventually
from trellis_sessions.plan.erasure import erase_person
from trellis_shared.contracts import sessions as s

CLOSING = {"rating": 4, "goals_met": "partly", "would_recommend": True}


def in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def draft(**changes):
    return {
        "goals": ["Lead a team of five by next summer", "Give a conference talk"],
        "mentor_expectations": "Honest feedback, one article a month",
        "mentee_expectations": "Come prepared with questions",
        "cadence_days": 7,
        "meeting_minutes": 30,
        "channels": ["video", "chat"],
        "boundaries": "No calls on weekends",
        "confidentiality": "What we discuss stays between us",
        "review_on": in_days(90),
    } | changes


async def test_the_first_put_drafts_it_and_later_puts_need_if_match(world):
    pair = await world.pair(cadence_days=14, meeting_minutes=45)
    url = f"{pair.url}/agreement"
    missing = await world.sessions.get(url, headers=pair.mentor)
    assert missing.status_code == 404

    created = await world.sessions.put(url, json=draft(), headers=pair.mentee)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == 'W/"1"'
    assert created.headers["location"] == url
    body = created.json()
    assert (body["state"], body["version"]) == ("draft", 1)
    assert body["channels"] == ["video", "chat"]
    assert body["goals"][0] == "Lead a team of five by next summer"
    assert body["mentor_signed_at"] is None and body["mentee_signed_at"] is None
    # The rhythm the two agreed becomes the mentorship's: health judges that one.
    mentorship = (await world.sessions.get(pair.url, headers=pair.mentor)).json()
    assert (mentorship["cadence_days"], mentorship["meeting_minutes"]) == (7, 30)

    for headers in (pair.mentor, pair.admin):
        read = await world.sessions.get(url, headers=headers)
        assert read.status_code == 200 and read.headers["etag"] == 'W/"1"'
    for headers in (pair.stranger, pair.other_org_admin):
        assert (await world.sessions.get(url, headers=headers)).status_code == 404

    changed = draft(cadence_days=10)
    blind = await world.sessions.put(url, json=changed, headers=pair.mentor)
    assert blind.status_code == 428
    stale = await world.sessions.put(url, json=changed, headers=pair.mentor | {"If-Match": 'W/"7"'})
    assert stale.status_code == 412
    updated = await world.sessions.put(
        url, json=changed, headers=pair.mentor | {"If-Match": 'W/"1"'}
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["version"], updated.headers["etag"]) == (2, 'W/"2"')
    assert (await world.sessions.get(pair.url, headers=pair.mentor)).json()["cadence_days"] == 10
    same = await world.sessions.put(url, json=changed, headers=pair.mentee | {"If-Match": 'W/"2"'})
    assert same.status_code == 200 and same.json()["version"] == 2  # nothing changed

    by_admin = await world.sessions.put(url, json=draft(), headers=pair.admin | {"If-Match": "*"})
    assert by_admin.status_code == 403
    by_stranger = await world.sessions.put(url, json=draft(), headers=pair.stranger)
    assert by_stranger.status_code == 404


async def test_cadence_left_out_keeps_the_mentorships(world):
    pair = await world.pair(cadence_days=21, meeting_minutes=60)
    created = await world.sessions.put(
        f"{pair.url}/agreement", json={"goals": ["Ship a side project"]}, headers=pair.mentor
    )
    assert created.status_code == 201, created.text
    assert (created.json()["cadence_days"], created.json()["meeting_minutes"]) == (21, 60)
    assert created.json()["channels"] == [] and created.json()["review_on"] is None


async def test_both_sign_the_same_version_and_a_change_needs_signing_again(world):
    pair = await world.pair()
    url = f"{pair.url}/agreement"
    assert (await world.sessions.put(url, json=draft(), headers=pair.mentor)).status_code == 201

    first = await world.sessions.post(f"{url}/sign", json={"version": 1}, headers=pair.mentor)
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "partially_signed" and first.json()["mentor_signed_at"]
    twice = await world.sessions.post(f"{url}/sign", json={"version": 1}, headers=pair.mentor)
    assert twice.status_code == 409 and twice.json()["type"].endswith("/already-signed")
    ahead = await world.sessions.post(f"{url}/sign", json={"version": 2}, headers=pair.mentee)
    assert ahead.status_code == 409 and ahead.json()["current_version"] == 1
    by_admin = await world.sessions.post(f"{url}/sign", json={"version": 1}, headers=pair.admin)
    assert by_admin.status_code == 403
    second = await world.sessions.post(f"{url}/sign", json={"version": 1}, headers=pair.mentee)
    assert second.status_code == 200 and second.json()["state"] == "signed"

    changed = await world.sessions.put(
        url,
        json=draft(boundaries="No calls after 8 pm"),
        headers=pair.mentee | {"If-Match": second.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["version"], changed.json()["state"]) == (2, "draft")
    assert changed.json()["mentor_signed_at"] is None and changed.json()["mentee_signed_at"] is None
    old = await world.sessions.post(f"{url}/sign", json={"version": 1}, headers=pair.mentor)
    assert old.status_code == 409
    assert "version 2" in old.json()["detail"]
    again = await world.sessions.post(f"{url}/sign", json={"version": 2}, headers=pair.mentor)
    assert again.status_code == 200 and again.json()["state"] == "partially_signed"

    signed = await eventually(
        lambda: world.events(s.AgreementSigned, pair.id), until=lambda e: len(e) >= 3
    )
    assert [(e.data.agreement_version, e.data.signed_by, e.data.complete) for e in signed] == [
        (1, "mentor", False),
        (1, "mentee", True),
        (2, "mentor", False),
    ]
    event = signed[1]
    assert event.type == "trellis.sessions.agreement.signed.v1"
    assert event.tenant == pair.org and event.subject == pair.id
    assert (event.data.mentor_id, event.data.mentee_id) == (pair.mentor_id, pair.mentee_id)
    assert event.data.program_id == pair.program_id


async def test_signing_needs_an_open_mentorship(world):
    pair = await world.pair()
    url = f"{pair.url}/agreement"
    assert (await world.sessions.put(url, json=draft(), headers=pair.mentor)).status_code == 201
    paused = await world.sessions.post(
        f"{pair.url}/pause", json={"reason": "Travel"}, headers=pair.mentor
    )
    assert paused.status_code == 200
    while_paused = await world.sessions.post(
        f"{url}/sign", json={"version": 1}, headers=pair.mentee
    )
    assert while_paused.status_code == 200

    done = await world.sessions.post(f"{pair.url}/complete", json=CLOSING, headers=pair.mentee)
    assert done.status_code == 200, done.text
    late = await world.sessions.post(f"{url}/sign", json={"version": 1}, headers=pair.mentor)
    assert late.status_code == 409 and "completed" in late.json()["detail"]
    edit = await world.sessions.put(url, json=draft(), headers=pair.mentor | {"If-Match": 'W/"1"'})
    assert edit.status_code == 409


async def test_agreement_fields_over_their_limits_name_the_field(world):
    pair = await world.pair()
    url = f"{pair.url}/agreement"
    for body, field in (
        (draft(goals=[f"goal {i}" for i in range(11)]), "body.goals"),
        (draft(goals=["x" * 501]), "body.goals.0"),
        (draft(goals=["  "]), "body.goals.0"),
        (draft(mentor_expectations="x" * 4001), "body.mentor_expectations"),
        (draft(mentee_expectations="x" * 4001), "body.mentee_expectations"),
        (draft(cadence_days=0), "body.cadence_days"),
        (draft(cadence_days=91), "body.cadence_days"),
        (draft(meeting_minutes=14), "body.meeting_minutes"),
        (draft(meeting_minutes=241), "body.meeting_minutes"),
        (draft(channels=["carrier_pigeon"]), "body.channels.0"),
        (draft(channels=["video"] * 11), "body.channels"),
        (draft(boundaries="x" * 4001), "body.boundaries"),
        (draft(confidentiality="x" * 4001), "body.confidentiality"),
        (draft(review_on=in_days(-1)), "body.review_on"),
        (draft(review_on="next spring"), "body.review_on"),
        (draft(signed=True), "body.signed"),
    ):
        response = await world.sessions.put(url, json=body, headers=pair.mentee)
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()
        assert field in response.json()["detail"]
    assert (await world.sessions.get(url, headers=pair.mentee)).status_code == 404

    assert (await world.sessions.put(url, json=draft(), headers=pair.mentee)).status_code == 201
    for body, field in (({"version": 0}, "body.version"), ({}, "body.version")):
        response = await world.sessions.post(f"{url}/sign", json=body, headers=pair.mentee)
        assert response.status_code == 422
        assert field in {e["field"] for e in response.json()["errors"]}


async def test_erasure_blanks_the_erased_sides_expectations_only(world):
    pair = await world.pair()
    url = f"{pair.url}/agreement"
    assert (await world.sessions.put(url, json=draft(), headers=pair.mentee)).status_code == 201

    async with AsyncSession(world.engine) as session, session.begin():
        await erase_person(session, pair.org, pair.mentee_id)
        await erase_person(session, uuid.uuid4(), pair.mentor_id)  # another tenant: no effect
    agreement = (await world.sessions.get(url, headers=pair.admin)).json()
    assert agreement["mentee_expectations"] is None
    assert agreement["mentor_expectations"] == "Honest feedback, one article a month"
    assert agreement["goals"] == draft()["goals"]  # the joint plan stays
