"""Passwords, access tokens, and the decorators that require a signed-in user.

Passwords are kept only as Argon2 hashes (pwdlib). Access tokens are JWTs signed with
HS256 and SECRET_KEY (PyJWT), with the claims `sub` (the user id, as a string), `iat` and
`exp`: every process that holds the same SECRET_KEY accepts them.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache, wraps
from typing import Any

import jwt
from flask import current_app, g, request
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from ..models.user import User
from .db import db

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "iat", "exp"]
# User ids are positive integers that fit the id column.
USER_ID = re.compile(r"[1-9][0-9]{0,9}")
MAX_USER_ID = 2**31 - 1

password_hash = PasswordHash((Argon2Hasher(),))

# A view function or MethodView method: the decorators pass its arguments on untouched.
View = Callable[..., Any]


def hash_password(password: str) -> str:
    return password_hash.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    return password_hash.verify(password, hashed)


@cache
def decoy_hash() -> str:
    """A hash to check passwords against when there is no such user.

    Checking one takes as long as checking a real user's, so the time a failed login takes
    does not tell whether the username exists.
    """
    return hash_password("no user has this password: it only costs the same time")


def create_access_token(user_id: int, secret_key: str, lifetime: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)


def user_id_from_token(token: str, secret_key: str) -> int:
    """The id of the user a valid token was issued to; `jwt.InvalidTokenError` otherwise."""
    claims = jwt.decode(
        token, secret_key, algorithms=[ALGORITHM], options={"require": REQUIRED_CLAIMS}
    )
    subject = claims["sub"]
    if isinstance(subject, str) and USER_ID.fullmatch(subject) and int(subject) <= MAX_USER_ID:
        return int(subject)
    raise jwt.InvalidTokenError("sub is not a user id")


def unauthorized(detail: str) -> Unauthorized:
    """A 401 that tells the client to come back with a bearer token."""
    return Unauthorized(detail, www_authenticate=WWWAuthenticate("bearer"))


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def authenticated_user() -> User:
    """The user of the request's bearer token, read from the database; 401 without one."""
    token = bearer_token()
    if token is None:
        raise unauthorized("Not authenticated: send Authorization: Bearer <token>")
    try:
        user_id = user_id_from_token(token, current_app.config["SECRET_KEY"])
    except jwt.InvalidTokenError as error:
        raise unauthorized("Invalid or expired token") from error
    user = db.session.get(User, user_id)
    if user is None:
        raise unauthorized("The token's user no longer exists")
    return user


def login_required(view: View) -> View:
    """Run the view only for a signed-in user, who is then `g.user` (see `current_user`)."""

    @wraps(view)
    def with_user(*args: Any, **kwargs: Any) -> Any:
        g.user = authenticated_user()
        return view(*args, **kwargs)

    return with_user


def admin_required(view: View) -> View:
    """`login_required`, and the user must be an admin (403 otherwise)."""

    @wraps(view)
    def with_admin(*args: Any, **kwargs: Any) -> Any:
        g.user = authenticated_user()
        if not g.user.is_admin:
            raise Forbidden("Only an admin may do this")
        return view(*args, **kwargs)

    return with_admin


def current_user() -> User:
    """The user `login_required` or `admin_required` found for this request."""
    user: User = g.user
    return user
