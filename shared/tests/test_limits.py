"""The services' own body limit, for callers that do not come through the gateway."""

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from trellis_shared.limits import BodyLimitMiddleware


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"received": len(await request.body())})


def _client(limit: int, larger: dict[str, int] | None = None) -> httpx.AsyncClient:
    app = Starlette(
        routes=[Route("/echo", _echo, methods=["POST"]), Route("/upload", _echo, methods=["POST"])]
    )
    app.add_middleware(BodyLimitMiddleware, limit=limit, larger=larger)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")


async def _chunks(size: int, count: int):
    for _ in range(count):
        yield b"x" * size


async def test_a_declared_body_over_the_limit_is_a_413_problem():
    async with _client(1000) as client:
        response = await client.post("/echo", content=b"x" * 1001)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413
    assert response.json()["limit_bytes"] == 1000


async def test_a_streamed_body_is_counted_and_stopped_at_the_limit():
    async with _client(1000) as client:
        over = await client.post("/echo", content=_chunks(300, 4))  # no Content-Length
        under = await client.post("/echo", content=_chunks(300, 3))
    assert over.status_code == 413
    assert under.status_code == 200
    assert under.json() == {"received": 900}


async def test_a_route_may_take_more_and_others_stay_bounded():
    async with _client(1000, larger={"/upload": 5000}) as client:
        upload = await client.post("/upload", content=b"x" * 4000)
        echo = await client.post("/echo", content=b"x" * 4000)
        too_big = await client.post("/upload", content=_chunks(1000, 6))
    assert upload.json() == {"received": 4000}
    assert (echo.status_code, too_big.status_code) == (413, 413)
