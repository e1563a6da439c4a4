"""/api/v1/auth/token: sign in with a username and password, get an access token."""

from datetime import timedelta
from typing import Any

from flask import current_app, request
from flask.views import MethodView

from ...core.auth import create_access_token, unauthorized
from ...core.throttle import current_throttle
from ...schemas.user import TokenRequestSchema, TokenSchema
from ...services import users
from . import Blueprint
from . import smorest_abort as abort
from .docs import problems

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Access tokens")

NO_STORE = {
    "Cache-Control": {
        "description": "no-store: a token is a credential, which no cache may keep",
        "schema": {"type": "string"},
        "required": True,
    }
}


@blp.route("/token")
class Token(MethodView):
    @blp.arguments(TokenRequestSchema, location="form")
    @blp.response(200, TokenSchema, headers=NO_STORE)
    # 401: a wrong username or password.
    @blp.doc(responses=problems(401, 413, 429, 503))
    def post(self, form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Sign in (the OAuth2 password grant, form-encoded) for a bearer token."""
        username, address = form["username"], request.remote_addr or ""
        throttle = current_throttle()
        retry_after = throttle.retry_after(username, address)
        if retry_after:
            abort(
                429,
                message="Too many failed sign-in attempts; try again later",
                headers={"Retry-After": str(retry_after)},
            )
        user = users.authenticate(username, form["password"])
        if user is None:
            throttle.record_failure(username, address)
            raise unauthorized("Incorrect username or password")
        lifetime = timedelta(minutes=current_app.config["ACCESS_TOKEN_MINUTES"])
        token = create_access_token(user.id, current_app.config["SECRET_KEY"], lifetime)
        body = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": int(lifetime.total_seconds()),
        }
        # A token is a credential: no cache may keep it.
        return body, {"Cache-Control": "no-store"}
