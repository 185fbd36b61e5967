"""RFC 9457 problem details for every error a service answers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_BASE = "https://trellis.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("trellis.problems")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
# SQLSTATEs of text Postgres cannot store (character_not_in_repertoire, untranslatable_character).
_UNSTORABLE_TEXT = {"22021", "22P05"}
_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    413: "too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal",
    503: "unavailable",
}


class Problem(Exception):
    """Raise from any layer to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or _SLUGS.get(status, "error")
        self.title = title or _TITLES.get(status, "Error")
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or _SLUGS.get(status, "error")),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extensions)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _field_name(loc: tuple[Any, ...]) -> str:
    # FastAPI prefixes the location ("body", "query", ...); keep it so the client knows where.
    return ".".join(str(part) for part in loc)


def install_problem_handlers(app: FastAPI) -> None:
    _document_problems(app)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request,
            exc.status,
            exc.detail,
            slug=exc.slug,
            title=exc.title,
            headers=exc.headers,
            **exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": _field_name(tuple(e.get("loc", ()))),
                "message": str(e.get("msg", "invalid")).removeprefix("Value error, "),
            }
            for e in exc.errors()
        ]
        fields = ", ".join(e["field"] for e in errors) or "request"
        return problem_response(request, 422, f"Invalid {fields}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No resource at {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(request, exc.status_code, detail, headers=exc.headers)

    @app.exception_handler(OSError)
    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeout)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database (or another dependency) is unreachable, or every pooled connection stayed
        # busy for `db_pool_timeout_s` (overload): the client should retry later.
        log.warning("dependency unavailable on %s %s: %s", request.method, request.url.path, exc)
        return problem_response(
            request,
            503,
            "A dependency is temporarily unavailable; retry shortly.",
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(DBAPIError)
    async def _unstorable(request: Request, exc: DBAPIError) -> JSONResponse:
        # Postgres text cannot hold NUL (\u0000), nor jsonb some escapes: bad input, not a fault.
        if getattr(exc.orig, "sqlstate", None) not in _UNSTORABLE_TEXT:
            return await _unexpected(request, exc)
        where = "query" if request.method in ("GET", "HEAD", "DELETE") else "body"
        message = "contains a character that cannot be stored (NUL, \\u0000)"
        return problem_response(
            request,
            422,
            f"Invalid {where}: {message}",
            errors=[{"field": where, "message": message}],
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "An unexpected error occurred; it has been logged.")


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `errors` names each invalid field",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_WRITES = {"post", "put", "patch", "delete"}


def _document_problems(app: FastAPI) -> None:
    """Put the problems every route can answer in its OpenAPI document, as problem+json.

    FastAPI documents only its own 422 body, which these handlers never send; clients (and
    schemathesis) must see what really comes back: 401/403 where a bearer token is required,
    404 for a path naming a resource, 409 and 422 on writes (conflicts, `Idempotency-Key` reuse),
    412/428 with `If-Match`, 400 for an unreadable body, 503 while a dependency is down, and any
    error status a route declares itself.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        for path, operations in document["paths"].items():
            if path.count("/") == 1:
                continue  # the process's probes (/healthz, /readyz) answer for themselves
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                declared = {int(s) for s in responses if s.isdigit() and int(s) >= 400}
                for status in sorted(declared | _statuses(method, operation)):
                    described = responses.get(str(status), {}).get("description")
                    responses[str(status)] = {
                        "description": described or _TITLES.get(status, "Error"),
                        "content": {
                            PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                        },
                    }
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _statuses(method: str, operation: dict[str, Any]) -> set[int]:
    parameters = operation.get("parameters", [])
    statuses = {503}
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if "security" in operation:
        statuses |= {401, 403}
    if any(p["in"] == "path" for p in parameters):
        statuses.add(404)
    if "requestBody" in operation:
        statuses.add(400)
    if method in _WRITES:
        statuses |= {409, 422}
    if any(p["name"].lower() == "if-match" for p in parameters):
        statuses |= {412, 428}
    return statuses
