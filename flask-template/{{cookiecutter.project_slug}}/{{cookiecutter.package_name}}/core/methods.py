"""OPTIONS answered with 204 and `Allow`.

Flask already answers HEAD on every GET route and OPTIONS on every route; only the
OPTIONS status differs from the contract (Flask sends 200 with an empty text/html body).
Its documentation names subclassing as the way to change that answer.
"""

from flask import Flask, Response


class Service(Flask):
    def make_default_options_response(self) -> Response:
        response = super().make_default_options_response()
        response.status_code = 204
        del response.headers["Content-Type"]
        return response
