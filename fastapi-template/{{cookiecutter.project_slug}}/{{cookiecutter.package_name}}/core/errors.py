"""Problem details (RFC 9457) for every 4xx and 5xx response, and the request body limit."""

import json
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
{%- if cookiecutter.use_auth and cookiecutter.use_celery %}
from limits.errors import StorageError
{%- endif %}
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from {{ cookiecutter.package_name }}.core.methods import allowed_methods

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
DATABASE_UNAVAILABLE = "Database is unavailable"
{%- if cookiecutter.use_auth and cookiecutter.use_celery %}
REDIS_UNAVAILABLE = "Redis is unavailable"
{%- endif %}

# RFC 9110 names; Python's http module still uses the older phrases for these two.
TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}

# Details for errors the framework raises itself (routing, body parsing).
FRAMEWORK_DETAILS = {
    400: "Malformed JSON body",
    404: "The requested URL was not found",
    405: "Method Not Allowed",
}


class ProblemError(HTTPException):
    """An error the application raises on purpose, with a detail meant for the client."""


class ContentTooLarge(ProblemError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body exceeds {limit} bytes")


def problem_title(status: int) -> str:
    return TITLES.get(status) or HTTPStatus(status).phrase


def problem_body(status: int, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": problem_title(status),
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }


def problem_response(
    status: int,
    detail: str,
    instance: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, detail, instance, **extra),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_CONTENT_TYPE,
    )


class ValidationIssue(BaseModel):
    """One invalid value in a 422 problem."""

    loc: list[str | int] = Field(
        description="body, query or path, then the field names and list indexes down to the value"
    )
    msg: str
    type: str


class Problem(BaseModel):
    """Problem details (RFC 9457), the body of every error response."""

    type: str = Field(description="Always about:blank: the status says it all")
    title: str = Field(description="The status code's reason phrase")
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str = Field(description="The path of the request")
    errors: list[ValidationIssue] = Field(
        default_factory=list, description="422 only: every invalid value, all at once"
    )


SCHEMA_REF = "#/components/schemas/{model}"
PROBLEM_CONTENT = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": SCHEMA_REF.format(model="Problem")}}}

# What an error status means wherever a route documents it, where its title says too little.
ERROR_DESCRIPTIONS = {
    400: "Malformed request body",
    401: "Missing or invalid credentials",
    412: "If-Match does not match the current ETag",
    413: "Request body over the size limit",
    415: "Request body is not JSON",
    422: "Invalid parameters or body",
    429: "Too many failed login attempts",
    503: "A dependency (database, Redis or job queue) is unavailable",
}
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
    429: {
        "Retry-After": {
            "description": "Seconds until the next attempt may succeed",
            "schema": {"type": "integer"},
            "required": True,
        }
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Entries for a route's `responses`: each status with the shared problem schema."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response = {
            "description": ERROR_DESCRIPTIONS.get(status) or problem_title(status),
            "content": PROBLEM_CONTENT,
        }
        if status in ERROR_HEADERS:
            response["headers"] = ERROR_HEADERS[status]
        responses[status] = response
    return responses


def problem_schemas() -> dict[str, Any]:
    """Problem and the schemas it refers to, for the document's components."""
    schema = Problem.model_json_schema(ref_template=SCHEMA_REF, mode="serialization")
    nested = schema.pop("$defs")
    return {"Problem": schema, **nested}


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Put the shared problem schema into an OpenAPI document FastAPI generated, and make
    every 422 refer to it.

    FastAPI documents a 422 wherever it validates parameters or a body, as its own
    HTTPValidationError in application/json; validation_exception_handler sends a problem.
    """
    for operations in document["paths"].values():
        for operation in operations.values():
            if "422" in operation["responses"]:
                operation["responses"]["422"] = problem_responses(422)[422]
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(problem_schemas())
    return document


def use_problem_schema(app: FastAPI) -> None:
    """Make `app.openapi()` produce its document through `document_problems`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def http_exception_handler(request: Request, exc: HTTPException) -> JSONResponse:
    status = exc.status_code
    if isinstance(exc, ProblemError):
        detail = str(exc.detail)
    else:
        detail = FRAMEWORK_DETAILS.get(status) or problem_title(status)
    headers = dict(exc.headers or {})
    if status == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.scope, request.app.router))
    return problem_response(status, detail, request.url.path, headers=headers)


def _validation_error(error: dict[str, Any]) -> dict[str, Any]:
    return {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}


async def validation_exception_handler(
    request: Request, exc: RequestValidationError
) -> JSONResponse:
    errors = exc.errors()
    if any(error["type"] == "json_invalid" for error in errors):
        return problem_response(400, FRAMEWORK_DETAILS[400], request.url.path)
    return problem_response(
        422,
        "Request validation failed",
        request.url.path,
        errors=[_validation_error(error) for error in errors],
    )


# SQLSTATEs of a database that cannot serve this process now, as psycopg's OperationalError
# (and so the Flask template) counts them: class 08 (connection exceptions), 28 (the login
# refused), 3D000 (no such database), 53 (out of connections, memory or disk), and a server
# shutting down or not yet accepting connections (57P01 to 57P03).
UNREACHABLE_SQLSTATES = ("08", "28", "3D000", "53", "57P01", "57P02", "57P03")


def database_unreachable(exc: Exception) -> bool:
    """Whether the error says the database cannot be reached, rather than that a query failed.

    SQLAlchemy wraps connection failures in OperationalError or InterfaceError, or marks the
    error connection_invalidated; other drivers' (asyncpg's, for one) arrive as plain
    DBAPIError, told apart by their SQLSTATE; a driver may also let a bare OSError out of its
    socket. A pool timeout (every connection the pool may open stayed in use for its whole
    timeout) is this process's own "out of connections": no connection for this request now.
    """
    if isinstance(exc, OperationalError | InterfaceError | OSError | PoolTimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    return exc.connection_invalidated or sqlstate.startswith(UNREACHABLE_SQLSTATES)


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not database_unreachable(exc):
        # Any other database error is a bug: RequestLoggingMiddleware logs it and answers 500.
        raise exc
    logger.error("%s: %s", DATABASE_UNAVAILABLE, exc)
    return problem_response(503, DATABASE_UNAVAILABLE, request.url.path)
{%- if cookiecutter.use_auth and cookiecutter.use_celery %}


async def redis_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # Only the login throttle lets Redis errors through: without Redis it cannot count.
    logger.error("%s: %s", REDIS_UNAVAILABLE, exc)
    return problem_response(503, REDIS_UNAVAILABLE, request.url.path)
{%- endif %}


def register_error_handlers(app: FastAPI) -> None:
    # Starlette types every handler as taking any Exception; each one here is registered for
    # exactly the class it is annotated with, which is the one it will receive.
    app.add_exception_handler(HTTPException, http_exception_handler)  # type: ignore[arg-type]
    app.add_exception_handler(
        RequestValidationError,
        validation_exception_handler,  # type: ignore[arg-type]
    )
    app.add_exception_handler(DBAPIError, database_error_handler)
    app.add_exception_handler(PoolTimeoutError, database_error_handler)
    # Redis and the job queue catch their own errors, so an OSError that gets this far
    # comes from the database driver.
    app.add_exception_handler(OSError, database_error_handler)
{%- if cookiecutter.use_auth and cookiecutter.use_celery %}
    app.add_exception_handler(StorageError, redis_error_handler)
{%- endif %}


async def websocket_not_found(websocket: WebSocket) -> None:
    """Refuse a handshake to a path no WebSocket route serves with the 404 problem HTTP gets.

    Without this route Starlette closes such a handshake, which the client sees as a bare 403.
    """
    if "websocket.http.response" not in websocket.scope.get("extensions", {}):
        await websocket.close()  # the server cannot send an HTTP response here: a 403 it is
        return
    problem = problem_response(404, FRAMEWORK_DETAILS[404], websocket.url.path)
    await websocket.send_denial_response(problem)


async def send_problem(send: Send, status: int, detail: str, instance: str) -> None:
    """Send a problem response from ASGI middleware, outside FastAPI's handlers."""
    body = json.dumps(problem_body(status, detail, instance)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Reject request bodies over `max_bytes` with 413, by header and by counting the stream.

    A declared Content-Length over the limit is refused before anything is read; a chunked
    or understated body is cut off as soon as the bytes received pass the limit.
    `path_limits` gives particular paths a limit of their own.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, path_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        max_bytes = self.path_limits.get(scope["path"], self.max_bytes)
        has_body = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > max_bytes:
                    await send_problem(
                        send, 413, f"Request body exceeds {max_bytes} bytes", scope["path"]
                    )
                    return
                has_body = True
            elif name == b"transfer-encoding":
                has_body = True
        if not has_body:
            # Neither header: HTTP/1.1 says there is no body (most GETs), nothing to count.
            await self.app(scope, receive, send)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise ContentTooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except ContentTooLarge as exc:
            # Raised where nothing turned it into a response (outside a FastAPI route).
            if response_started:
                raise
            await send_problem(send, 413, str(exc.detail), scope["path"])
