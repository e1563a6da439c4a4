"""Problem details (RFC 9457) for every 4xx and 5xx response.

flask-smorest's `Api` already handles every `HTTPException`; `ProblemApi` overrides that
handler so aborts, routing errors and webargs' validation errors all come out as
`application/problem+json`. A catch-all turns any other exception into a logged 500.
"""

import logging
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any, cast

from flask import Flask, Response, current_app, request
from flask_smorest import Api
from marshmallow import Schema, fields
from marshmallow.validate import Range
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import WebsocketMismatch

PROBLEM_CONTENT_TYPE = "application/problem+json"

# RFC 9110 names; Python's http module still uses the older phrases for these two.
TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}

# Details for errors raised by Flask and werkzeug themselves (routing, body limits);
# the body parser gives its own ("Malformed JSON body") for the 400 it raises.
DEFAULT_DETAILS = {
    404: "The requested URL was not found",
    405: "Method Not Allowed",
    415: "Request body must be application/json",
    422: "Request validation failed",
    500: "An unexpected error occurred",
}

# webargs reports where an argument came from; the contract calls those places this.
{%- if cookiecutter.use_auth %}
# A form (the token request's) is a request body too.
LOCATIONS = {
    "json": "body",
    "form": "body",
    "query": "query",
    "querystring": "query",
    "view_args": "path",
}
{%- else %}
LOCATIONS = {"json": "body", "query": "query", "querystring": "query", "view_args": "path"}
{%- endif %}

# Error types for marshmallow's stock messages; any other message is a "value_error".
ERROR_TYPES = {
    "Missing data for required field.": "missing",
    "Request body is required.": "missing",
    "Unknown field.": "extra_forbidden",
    "Field may not be null.": "null",
    "Invalid input type.": "invalid_type",
    "Not a valid string.": "string_type",
    "Not a valid number.": "number_type",
    "Not a valid integer.": "int_type",
    "Not a valid list.": "list_type",
}

logger = logging.getLogger(__name__)


def problem_title(status: int) -> str:
    return TITLES.get(status) or HTTPStatus(status).phrase


def problem(status: int, detail: str, headers: Any = None, **extra: Any) -> Response:
    body = {
        "type": "about:blank",
        "title": problem_title(status),
        "status": status,
        "detail": detail,
        "instance": request.path,
        **extra,
    }
    # The JSON provider builds app.response_class, a flask.Response; it is typed as werkzeug's.
    response = cast(Response, current_app.json.response(body))
    response.status_code = status
    response.mimetype = PROBLEM_CONTENT_TYPE
    if headers:
        response.headers.extend(headers)
    return response


def _flatten(messages: Any, loc: list[str | int]) -> Iterator[dict[str, Any]]:
    """Turn marshmallow's nested messages into one {loc, msg, type} per problem."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            # "_schema" holds errors about the object itself, not one of its fields.
            yield from _flatten(value, loc if key == "_schema" else [*loc, key])
    elif isinstance(messages, list | tuple):
        for message in messages:
            yield from _flatten(message, loc)
    else:
        message = str(messages)
        yield {"loc": loc, "msg": message, "type": ERROR_TYPES.get(message, "value_error")}


def validation_errors(messages: dict[str, Any]) -> list[dict[str, Any]]:
    """webargs messages are keyed by location first: {"json": {...}, "query": {...}}."""
    errors: list[dict[str, Any]] = []
    for location, location_messages in messages.items():
        errors.extend(_flatten(location_messages, [LOCATIONS.get(location, location)]))
    return errors


def _detail(error: HTTPException) -> str:
    data = getattr(error, "data", None) or {}
    if "message" in data:
        return str(data["message"])
    if error.code == 413:
        return f"Request body exceeds {request.max_content_length} bytes"
    # werkzeug's own description is generic; one given to abort() is meant for the client.
    if error.description is not None and error.description != type(error).description:
        return error.description
    status = error.code or 500
    return DEFAULT_DETAILS.get(status) or problem_title(status)


class ValidationErrorSchema(Schema):
    loc = fields.List(
        fields.Raw(metadata={"type": ["string", "integer"]}),
        required=True,
        metadata={"description": "body, query or path, then field names and list indexes"},
    )
    msg = fields.String(required=True)
    type = fields.String(required=True)


class ProblemSchema(Schema):
    """The error body (RFC 9457), as documented in the OpenAPI description."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True, metadata={"description": "The status's reason phrase"})
    status = fields.Integer(required=True, validate=Range(min=400, max=599))
    detail = fields.String(required=True)
    instance = fields.String(required=True, metadata={"description": "The request's path"})
    errors = fields.List(
        fields.Nested(ValidationErrorSchema),
        metadata={"description": "422 only: every invalid value at once"},
    )


# What each error status means, wherever an operation documents it.
PROBLEM_DESCRIPTIONS = {
    400: "Malformed JSON body",
    401: "Missing, malformed, expired or badly signed bearer token",
    403: "The token's user may not do this",
    404: "No such resource",
    409: "Conflicts with an existing resource",
    412: "If-Match does not match the item's current ETag",
    413: "Request body over the size limit",
    415: "Request body is not JSON",
    422: "Invalid parameters or body: `errors` lists every invalid value",
    429: "Too many failed sign-in attempts",
    503: "The database is unavailable",
}
PROBLEM_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
    429: {
        "Retry-After": {
            "description": "Seconds until this username may try again from this address",
            "schema": {"type": "integer", "minimum": 1},
            "required": True,
        }
    },
}


def problem_response_doc(status: int) -> dict[str, Any]:
    """The OpenAPI response of an error status: a problem, with its headers."""
    doc: dict[str, Any] = {
        "description": PROBLEM_DESCRIPTIONS.get(status) or problem_title(status),
        "content": {PROBLEM_CONTENT_TYPE: {"schema": ProblemSchema}},
    }
    if status in PROBLEM_HEADERS:
        doc["headers"] = PROBLEM_HEADERS[status]
    return doc


class ProblemApi(Api):  # type: ignore[misc]  # flask-smorest publishes no types
    """flask-smorest's Api, answering errors with problem+json instead of its own format."""

    ERROR_SCHEMA = ProblemSchema
    # No catch-all `default` response: each operation documents every status it answers.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        """flask-smorest's shared responses, one per status (NOT_FOUND, ...): the errors
        among them are problems. `@blp.arguments` refers to UNPROCESSABLE_ENTITY itself;
        operations refer to the others with `@blp.doc(responses=problems(...))`."""
        super()._register_responses()
        for status in HTTPStatus:
            if status >= 400:
                self.spec.components.response(status.name, problem_response_doc(status), lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Response:
        if isinstance(error, WebsocketMismatch):
            # A plain request to a WebSocket route (or the reverse): no such resource here.
            error = NotFound()
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        extra = {}
        if status == 422 and "messages" in data:
            extra["errors"] = validation_errors(data["messages"])
        # Keep headers such as Allow (405) but not werkzeug's HTML content type.
        headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        headers.extend((data.get("headers") or {}).items())
        return problem(status, _detail(error), headers, **extra)


def handle_database_unavailable(error: OperationalError | PoolTimeoutError) -> Response:
    """The database cannot serve this request now: it cannot be reached, or (a pool
    timeout) every connection the pool may open stayed in use for the pool's whole timeout."""
    logger.error("Database error: %s", getattr(error, "orig", error))
    return problem(503, "database is unavailable")


def handle_unexpected_error(error: Exception) -> Response:
    logger.exception("Unhandled exception")
    return problem(500, DEFAULT_DETAILS[500])


def register_error_handlers(app: Flask) -> None:
    """HTTP errors are ProblemApi's; these cover everything else a view may raise."""
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(PoolTimeoutError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected_error)
