"""The items table as the templates' migrations create it, shared by both floor apps.

The floors read and write the template's own database, so this mirrors the template's
model column for column (JSONB on PostgreSQL, a version column bumped by SQLAlchemy).
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

CACHE_TTL_SECONDS = 60
JSONColumn = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_timestamp(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive datetimes, stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cache_key(item_id: int) -> str:
    # Not the template's `item:<id>`: both share one Redis database during a run.
    return f"floor:item:{item_id}"


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(1000))
    price: Mapped[float] = mapped_column(Float)
    tags: Mapped[list[str]] = mapped_column(JSONColumn, default=list)
    dimensions: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __mapper_args__ = {"version_id_col": version}
