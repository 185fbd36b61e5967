"""Baselines measured beside Trellis in the same run: the least a route of each kind can cost.

`GET /json` is a bare Starlette JSON route; `GET /person/{org}/{id}` reads one profile row with one
raw asyncpg SELECT (Postgres renders it as JSON); `POST /raw-insert` does one raw asyncpg INSERT.
Run with uvicorn exactly like a service (one process), so the ratio isolates our own work.
"""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DSN = os.environ.get("BENCH_BASELINE_DSN", "")
# The one statement of each raw route; floor_app.py runs the same ones.
READ_PERSON = (
    "SELECT to_jsonb(p)::text FROM profiles.person p WHERE p.organization_id = $1 AND p.id = $2"
)
RAW_INSERT = "INSERT INTO bench_raw_person (id, full_name, email) VALUES ($1, $2, $3)"
PERSON = {
    "id": str(uuid.uuid4()),
    "full_name": "Baseline Person",
    "headline": "A fixed document of the same size as a profile",
    "time_zone": "Europe/Paris",
    "languages": ["en", "fr"],
    "skills": [{"name": "python", "level": "advanced"}],
}


@asynccontextmanager
async def lifespan(app: Starlette):
    app.state.pool = await asyncpg.create_pool(DSN, min_size=4, max_size=10) if DSN else None
    yield
    if app.state.pool is not None:
        await app.state.pool.close()


async def read_json(request: Request) -> JSONResponse:
    return JSONResponse(PERSON)


async def read_person(request: Request) -> Response:
    async with request.app.state.pool.acquire() as conn:
        found = await conn.fetchval(
            READ_PERSON,
            uuid.UUID(request.path_params["org"]),
            uuid.UUID(request.path_params["id"]),
        )
    if found is None:
        return JSONResponse({"detail": "not found"}, status_code=404)
    return Response(found, media_type="application/json")


async def raw_insert(request: Request) -> JSONResponse:
    body = await request.json()
    async with request.app.state.pool.acquire() as conn:
        await conn.execute(
            RAW_INSERT,
            uuid.uuid4(),
            body["full_name"],
            body["email"],
        )
    return JSONResponse({"ok": True}, status_code=201)


app = Starlette(
    routes=[
        Route("/json", read_json),
        Route("/person/{org}/{id}", read_person),
        Route("/raw-insert", raw_insert, methods=["POST"]),
    ],
    lifespan=lifespan,
)
