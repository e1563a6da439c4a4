"""The Blueprint every route module uses: flask-smorest's, with a stricter JSON body parser."""

from typing import Any

import flask_smorest
from flask import Request
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

MALFORMED_JSON = "Malformed JSON body"


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
            return core.parse_json(req.get_data(cache=True))
        except RecursionError:  # nested deeper than the JSON decoder will go
            abort(400, message=MALFORMED_JSON)

    def _handle_invalid_json_error(self, error: Exception, req: Request, *args, **kwargs):
        abort(400, message=MALFORMED_JSON)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonBodyParser()
