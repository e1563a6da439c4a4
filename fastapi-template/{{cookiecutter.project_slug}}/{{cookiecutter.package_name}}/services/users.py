"""User accounts: look-ups, password checks, creation and the start-up admin."""

import asyncio
import re

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.core.auth import hash_password, spend_a_verification, verify_password
from {{ cookiecutter.package_name }}.core.db import standalone_session
from {{ cookiecutter.package_name }}.models.user import User
from {{ cookiecutter.package_name }}.schemas.user import USERNAME_PATTERN, USERNAME_RULE, UserCreate

# Ids the database can hold (PostgreSQL's integer); larger ones cannot exist.
MAX_USER_ID = 2**31 - 1


class UsernameTaken(Exception):
    def __init__(self, username: str) -> None:
        super().__init__(f"The username {username!r} is taken")


async def get(session: AsyncSession, user_id: int) -> User | None:
    if not 0 < user_id <= MAX_USER_ID:
        return None
    return await session.get(User, user_id)


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    """The user with this username and password; None when either is wrong."""
    user = None
    # A name no user can have is not looked up (PostgreSQL refuses text with NUL in it).
    if re.fullmatch(USERNAME_PATTERN, username):
        user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        await spend_a_verification(password)
        return None
    return user if await verify_password(password, user.password_hash) else None


async def create(session: AsyncSession, data: UserCreate) -> User:
    user = User(
        username=data.username,
        password_hash=await hash_password(data.password),
        is_admin=data.is_admin,
    )
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise UsernameTaken(data.username) from None
    return user


async def ensure_admin(session: AsyncSession, username: str, password: str) -> None:
    """Create `username` as an administrator, or give the existing user that password and role.

    Safe to run at every start, and from several processes at once: whoever loses the race
    to insert the row updates it instead.
    """
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise ValueError(f"{username!r} is not a valid username ({USERNAME_RULE})")
    password_hash = await hash_password(password)
    session.add(User(username=username, password_hash=password_hash, is_admin=True))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        await session.execute(
            update(User)
            .where(User.username == username)
            .values(password_hash=password_hash, is_admin=True)
        )
        await session.commit()


def bootstrap_admin(database_url: str, username: str, password: str) -> None:
    """`ensure_admin` for code outside any event loop: the gunicorn master, before it forks."""

    async def run() -> None:
        async with standalone_session(database_url) as session:
            await ensure_admin(session, username, password)

    asyncio.run(run())
