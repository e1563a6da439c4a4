"""Passwords (Argon2, through pwdlib) and access tokens (JWTs signed HS256, through PyJWT).

Hashing or checking a password takes tens of milliseconds of CPU on purpose, so both run in
the thread pool: on the event loop they would stall every other request of the worker.
"""

from datetime import UTC, datetime, timedelta
from functools import cache

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from starlette.concurrency import run_in_threadpool

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "iat", "exp"]

password_hasher = PasswordHash((Argon2Hasher(),))


async def hash_password(password: str) -> str:
    return await run_in_threadpool(password_hasher.hash, password)


async def verify_password(password: str, password_hash: str) -> bool:
    return await run_in_threadpool(password_hasher.verify, password, password_hash)


@cache
def _hash_of_nobody() -> str:
    return password_hasher.hash("a password that belongs to no user")


def _verify_against_nobody(password: str) -> bool:
    return password_hasher.verify(password, _hash_of_nobody())


async def spend_a_verification(password: str) -> None:
    """Check `password` against a hash no user has: as slow as a real check, always false.

    Run for an unknown username, so the response time does not tell which usernames exist.
    """
    await run_in_threadpool(_verify_against_nobody, password)


def create_access_token(user_id: int, secret_key: str, lifetime: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)


def user_id_from_token(token: str, secret_key: str) -> int | None:
    """The user id a valid, unexpired token of ours names; None for any other token."""
    try:
        claims = jwt.decode(
            token, secret_key, algorithms=[ALGORITHM], options={"require": REQUIRED_CLAIMS}
        )
    except jwt.InvalidTokenError:
        return None
    subject = claims["sub"]
    if not (isinstance(subject, str) and subject.isascii() and subject.isdigit()):
        return None
    return int(subject)
