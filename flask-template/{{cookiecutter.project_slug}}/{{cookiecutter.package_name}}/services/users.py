"""Users: sign-in, creation, lookup, and the admin user the settings ask for."""

import logging

from flask import Flask
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from ..core.auth import MAX_USER_ID, decoy_hash, hash_password, verify_password
from ..core.db import db
from ..models.user import User, is_username

logger = logging.getLogger(__name__)


class UsernameTakenError(Exception):
    """Another user already has this username."""


def get_user(user_id: int) -> User | None:
    if user_id > MAX_USER_ID:
        return None
    return db.session.get(User, user_id)


def get_user_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


def authenticate(username: str, password: str) -> User | None:
    """The user with this username and password, or None.

    An unknown username costs a password check as well, so that the time a failed sign-in
    takes does not tell whether the username exists.
    """
    # Anything that is not a username cannot be one; the database is not asked.
    user = get_user_by_username(username) if is_username(username) else None
    if user is None:
        verify_password(password, decoy_hash())
        return None
    return user if verify_password(password, user.password_hash) else None


def create_user(username: str, password: str, is_admin: bool = False) -> User:
    user = User(username=username, password_hash=hash_password(password), is_admin=is_admin)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise UsernameTakenError(username) from error
    return user


def ensure_admin(username: str, password: str) -> User:
    """Create this admin user, or give the existing user this password and the admin flag.

    Idempotent, and safe when several processes run it at once: one that finds the user
    created meanwhile by another (the unique username refuses its insert) updates it.
    """
    if not is_username(username):
        raise ValueError(f"ADMIN_USERNAME {username!r} is not a valid username")
    user = get_user_by_username(username)
    if user is None:
        try:
            return create_user(username, password, is_admin=True)
        except UsernameTakenError:
            user = get_user_by_username(username)
            if user is None:  # created and deleted again meanwhile: not worth a retry
                raise
    user.password_hash = hash_password(password)
    user.is_admin = True
    db.session.commit()
    return user


def ensure_admin_at_start(app: Flask) -> None:
    """When ADMIN_USERNAME and ADMIN_PASSWORD are both set, `ensure_admin` them.

    gunicorn's master calls this once, after the migrations; an app started any other way
    (tests, `flask run`) calls it as it is created.
    """
    username, password = app.config["ADMIN_USERNAME"], app.config["ADMIN_PASSWORD"]
    if not (username and password):
        return
    with app.app_context():
        if not inspect(db.engine).has_table(User.__tablename__):
            # `flask db upgrade` builds the app too, before the migrations have run.
            logger.warning("ADMIN_USERNAME is set but there is no users table yet: migrate")
            return
        ensure_admin(username, password)
        logger.info("Admin user %s is ready", username)
        # gunicorn's master forks the workers next: they must not inherit the connection.
        db.engine.dispose()
