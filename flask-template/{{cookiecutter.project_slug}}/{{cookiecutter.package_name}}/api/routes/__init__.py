"""The Blueprint every route module uses: flask-smorest's, with a stricter JSON body parser."""

from collections.abc import Callable
from typing import Any, NoReturn

import flask_smorest
from flask import Request
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge

MALFORMED_JSON = "Malformed JSON body"

# flask-smorest's abort() always raises, but the package publishes no types: say so here.
smorest_abort: Callable[..., NoReturn] = flask_smorest.abort


def read_body(req: Request) -> bytes:
    """The request body, or 413 if it is over `max_content_length`.

    werkzeug rejects a too-large Content-Length up front, but a chunked body has none:
    werkzeug then reads it up to the limit and quietly stops there. One byte more on the
    wire means the body was too large, not that the JSON in it is broken.
    """
    body = req.get_data(cache=True)
    limit = req.max_content_length
    stopped_at_limit = req.content_length is None and limit is not None and len(body) >= limit
    if stopped_at_limit and req.input_stream.read(1):
        raise RequestEntityTooLarge()
    return body


class JsonBodyParser(FlaskParser):
    """Tell a missing body (422), a body that is not JSON (415) and broken JSON (400) apart.

    webargs would quietly read the first two as an empty object.
    """

    def load_json(self, req: Request, schema: Schema) -> Any:
        if not req.content_length and not req.headers.get("Transfer-Encoding"):
            abort(422, messages={"json": ["Request body is required."]})
        if not is_json_request(req):
            abort(415)
        return super().load_json(req, schema)

    def _raw_load_json(self, req: Request) -> Any:
        try:
            return core.parse_json(read_body(req))
        except RecursionError:  # nested deeper than the JSON decoder will go
            abort(400, message=MALFORMED_JSON)

    def _handle_invalid_json_error(
        self, error: Exception, req: Request, *args: Any, **kwargs: Any
    ) -> NoReturn:
        abort(400, message=MALFORMED_JSON)


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]  # flask-smorest has no types
    ARGUMENTS_PARSER = JsonBodyParser()
