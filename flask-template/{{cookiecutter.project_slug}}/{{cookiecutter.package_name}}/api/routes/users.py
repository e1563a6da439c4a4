"""/api/v1/users: the signed-in user, and new users (admins only)."""

from typing import Any

from flask.views import MethodView

from ...core.auth import admin_required, current_user, login_required
from ...models import User
from ...schemas.user import UserCreateSchema, UserSchema
from ...services import users
from . import Blueprint
from . import smorest_abort as abort
from .docs import BEARER, JSON_BODY, problems

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Users")


@blp.route("")
class Users(MethodView):
    @blp.doc(security=BEARER)
    @admin_required
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    # 403: the caller is not an admin; 409: the username is taken.
    @blp.doc(responses=problems(*JSON_BODY, 401, 403, 409, 503))
    def post(self, data: dict[str, Any]) -> User:
        """Create a user (admins only)."""
        try:
            return users.create_user(**data)
        except users.UsernameTakenError:
            abort(409, message=f"Username {data['username']} is taken")


@blp.route("/me")
class Me(MethodView):
    @blp.doc(security=BEARER)
    @login_required
    @blp.response(200, UserSchema)
    @blp.doc(responses=problems(401, 503))
    def get(self) -> User:
        """The signed-in user."""
        return current_user()
