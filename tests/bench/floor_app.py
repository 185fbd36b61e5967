"""The least a route can cost on the services' own stack, measured beside them in the same run.

FastAPI with the services' telemetry (every request traced and written to a trace file, a span per
asyncpg statement, the HTTP metrics), our bearer-token check and role rule, the profile's own
request model, and one raw asyncpg statement. It has no ORM, outbox, idempotency, request-id or
body-limit layers. What separates a service route from this one is our own code; what separates
this one from the bare Starlette baselines is the stack the architecture prescribes.
"""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager

import asyncpg
from baseline_app import RAW_INSERT, READ_PERSON
from fastapi import FastAPI, Request, Response

from trellis_profiles.people.models import PersonCreate
from trellis_shared.app import TELEMETRY
from trellis_shared.auth import CurrentPrincipal, TokenVerifier, require_roles
from trellis_shared.problems import Problem, install_problem_handlers
from trellis_shared.settings import ServiceSettings
from trellis_shared.telemetry import setup_telemetry

setup_telemetry(
    "bench-floor", otlp_endpoint=None, trace_file=os.environ.get("BENCH_FLOOR_TRACE_FILE")
)


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.pool = await asyncpg.create_pool(
        os.environ["BENCH_BASELINE_DSN"], min_size=4, max_size=10
    )
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan, telemetry=TELEMETRY)
app.state.token_verifier = TokenVerifier(ServiceSettings(service_name="bench-floor"))
install_problem_handlers(app)


@app.post("/floor/people", status_code=201, dependencies=[require_roles("org_admin")])
async def write_person(
    body: PersonCreate, principal: CurrentPrincipal, request: Request
) -> dict[str, str]:
    person_id = uuid.uuid4()
    await request.app.state.pool.execute(
        RAW_INSERT,
        person_id,
        body.full_name,
        body.email,
    )
    return {"id": str(person_id)}


@app.get("/floor/people/{person_id}", dependencies=[require_roles("org_admin", "member")])
async def read_person(
    person_id: uuid.UUID, principal: CurrentPrincipal, request: Request
) -> Response:
    found = await request.app.state.pool.fetchval(
        READ_PERSON,
        principal.org,
        person_id,
    )
    if found is None:
        raise Problem(404, f"No person {person_id}")
    return Response(found, media_type="application/json")
