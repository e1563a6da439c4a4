import re
from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import Model, utcnow

USERNAME = re.compile(r"[A-Za-z0-9_.@-]{3,50}")


def is_username(value: str) -> bool:
    """Whether `value` is 3 to 50 of A-Z, a-z, 0-9, `_`, `.`, `@` and `-`."""
    return USERNAME.fullmatch(value) is not None


class User(Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    # Argon2, in the PHC string format: algorithm, parameters, salt and hash in one.
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
