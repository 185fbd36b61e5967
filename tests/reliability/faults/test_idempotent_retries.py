"""What a client's retry meets after its first attempt died mid-request (the service killed, as
the chaos test does): an attempt that committed nothing is taken over once its lease is over,
one that committed its effect is not applied again, and a superseded attempt cannot commit.

The dead attempts are written as they are left behind: an idempotency record in progress."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from tests.reliability.faults.conftest import Actor, database
from trellis_shared.idempotency import fence
from trellis_shared.messaging_tables import idempotency_record
from trellis_shared.problems import Problem

PATH = "/profiles/people"
LOAD = "retries through the gateway, same Idempotency-Key"


def _request(name: str) -> tuple[bytes, str]:
    body = json.dumps({"full_name": name, "email": f"{uuid.uuid4().hex[:10]}@example.org"})
    digest = hashlib.sha256(b"\n".join([b"POST", PATH.encode(), b"", body.encode()])).hexdigest()
    return body.encode(), digest


async def _left_behind(
    platform, admin: Actor, key: str, digest: str, *, age: str = "2 minutes", committed=False
) -> None:
    """The record an attempt leaves when its process dies before it answers."""
    async with database(platform) as db:
        await db.execute(
            "INSERT INTO profiles.idempotency_record"
            " (tenant, principal, key, request_hash, claim_token, created_at, committed_at)"
            " VALUES ($1, $2, $3, $4, $5, now() - $6::text::interval, CASE WHEN $7 THEN now() END)",
            admin.org,
            admin.sub,
            key,
            digest,
            uuid.uuid4(),
            age,
            committed,
        )


async def _post(gateway, admin: Actor, key: str, body: bytes):
    headers = admin.headers | {"Idempotency-Key": key, "Content-Type": "application/json"}
    return await gateway.post(PATH, content=body, headers=headers)


async def _people(gateway, admin: Actor) -> list[dict]:
    return (await gateway.get(PATH, headers=admin.headers)).json()["data"]


async def test_a_retry_takes_over_a_key_whose_attempt_died_before_committing(
    gateway, platform, figures
):
    admin, key = Actor.admin(uuid.uuid4()), uuid.uuid4().hex
    body, digest = _request("Ada Retry")
    await _left_behind(platform, admin, key, digest)

    first = await _post(gateway, admin, key, body)
    again = await _post(gateway, admin, key, body)
    people = await _people(gateway, admin)
    figures.summary(
        load=LOAD,
        faults="attempt died before committing",
        cases=2,
        lost=max(0, 1 - len(people)),
        duplicated=max(0, len(people) - 1),
        errors_5xx=sum(1 for r in (first, again) if r.status_code >= 500),
    )

    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert [p["id"] for p in people] == [first.json()["id"]]


async def test_a_key_still_within_its_lease_is_in_progress(gateway, platform, figures):
    admin, key = Actor.admin(uuid.uuid4()), uuid.uuid4().hex
    body, digest = _request("Ben Busy")
    await _left_behind(platform, admin, key, digest, age="5 seconds")

    busy = await _post(gateway, admin, key, body)
    # The first attempt may still be running: a person from the retry would be a second one.
    people = await _people(gateway, admin)
    figures.summary(
        load=LOAD,
        faults="attempt still within its lease",
        cases=1,
        duplicated=len(people),
        errors_5xx=int(busy.status_code >= 500),
    )

    assert busy.status_code == 409 and busy.json()["type"].endswith("idempotency-in-progress")
    assert people == []


async def test_a_retry_after_the_effect_committed_is_not_applied_again(gateway, platform, figures):
    admin, key = Actor.admin(uuid.uuid4()), uuid.uuid4().hex
    body, digest = _request("Cleo Committed")
    # The first attempt's person is not written here: only its commit mark, which is what the
    # service reads. A retry that ran again would create a person.
    await _left_behind(platform, admin, key, digest, committed=True)

    retry = await _post(gateway, admin, key, body)
    people = await _people(gateway, admin)
    figures.summary(
        load=LOAD,
        faults="attempt died after committing",
        cases=1,
        duplicated=len(people),
        errors_5xx=int(retry.status_code >= 500),
    )

    assert retry.status_code == 409, retry.text
    assert retry.json()["type"].endswith("idempotency-response-lost"), retry.text
    assert people == []


async def test_an_attempt_whose_key_was_taken_over_cannot_commit(platform, figures):
    engine = create_async_engine(
        platform.service_database_url("profiles"),
        connect_args={"server_settings": {"search_path": "profiles"}},
    )
    sessions = async_sessionmaker(engine, class_=AsyncSession)
    admin, key = Actor.admin(uuid.uuid4()), uuid.uuid4().hex
    _, digest = _request("Dan Fenced")
    await _left_behind(platform, admin, key, digest, age="0 seconds")
    stale_claim = {"tenant": admin.org, "principal": admin.sub, "key": key}
    try:
        async with sessions() as session:
            fence(session, stale_claim | {"claim_token": uuid.uuid4()})
            with pytest.raises(Problem) as refused:
                async with session.begin():
                    # The attempt's own write, which must not survive.
                    await session.execute(
                        idempotency_record.insert().values(
                            tenant=admin.org, principal=admin.sub, key="effect", request_hash="-"
                        )
                    )
        assert refused.value.status == 409
        async with database(platform) as db:
            keys = await db.fetch(
                "SELECT key FROM profiles.idempotency_record WHERE tenant = $1", admin.org
            )
        figures.summary(
            load="a superseded attempt's commit, in-process",
            faults="attempt's key taken over before it committed",
            cases=1,
            # The superseded attempt's write, applied next to the retry's.
            duplicated=len(keys) - 1,
        )
        assert [r["key"] for r in keys] == [key]
    finally:
        await engine.dispose()
