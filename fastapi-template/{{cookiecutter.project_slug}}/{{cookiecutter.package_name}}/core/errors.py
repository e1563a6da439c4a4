"""Problem details (RFC 9457) for every 4xx and 5xx response, and the request body limit."""

import json
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
DATABASE_UNAVAILABLE = "Database is unavailable"

# RFC 9110 names; Python's http module still uses the older phrases for these two.
TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}

CANDIDATE_METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")

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


def allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts for this path.

    Starlette's 405 lists only the methods of the first route that matched the path, while
    GET and POST on /api/v1/items, for instance, are two routes: ask the router instead.
    """
    allowed = []
    for method in CANDIDATE_METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


async def http_exception_handler(request: Request, exc: HTTPException) -> JSONResponse:
    status = exc.status_code
    if isinstance(exc, ProblemError):
        detail = str(exc.detail)
    else:
        detail = FRAMEWORK_DETAILS.get(status) or problem_title(status)
    headers = dict(exc.headers or {})
    if status == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
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


def database_unreachable(exc: Exception) -> bool:
    """Whether the error says the database cannot be reached, rather than that a query failed.

    SQLAlchemy wraps connection failures in OperationalError or InterfaceError, or marks the
    error connection_invalidated; a driver may also let a bare OSError out of its socket.
    """
    if isinstance(exc, OperationalError | InterfaceError | OSError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not database_unreachable(exc):
        # Any other database error is a bug: RequestLoggingMiddleware logs it and answers 500.
        raise exc
    logger.error("%s: %s", DATABASE_UNAVAILABLE, exc)
    return problem_response(503, DATABASE_UNAVAILABLE, request.url.path)


def register_error_handlers(app: FastAPI) -> None:
    # Starlette types every handler as taking any Exception; each one here is registered for
    # exactly the class it is annotated with, which is the one it will receive.
    app.add_exception_handler(HTTPException, http_exception_handler)  # type: ignore[arg-type]
    app.add_exception_handler(
        RequestValidationError,
        validation_exception_handler,  # type: ignore[arg-type]
    )
    app.add_exception_handler(DBAPIError, database_error_handler)
    # Redis and the job queue catch their own errors, so an OSError that gets this far
    # comes from the database driver.
    app.add_exception_handler(OSError, database_error_handler)


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
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > max_bytes:
                    await send_problem(
                        send, 413, f"Request body exceeds {max_bytes} bytes", scope["path"]
                    )
                    return
                break

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
