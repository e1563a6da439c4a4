from datetime import UTC, datetime
from typing import Any

{% if cookiecutter.use_auth -%}
from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String
{% else -%}
from sqlalchemy import JSON, DateTime, Float, Integer, String
{% endif -%}
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from {{ cookiecutter.package_name }}.core.db import Base

JSONColumn = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(1000))
    price: Mapped[float] = mapped_column(Float)
    tags: Mapped[list[str]] = mapped_column(JSONColumn, default=list)
    dimensions: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
{%- if cookiecutter.use_auth %}
    # Who created the item; null for items older than users, or whose owner was deleted.
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_items_owner_id_users")
    )
{%- endif %}
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    # Every UPDATE checks and bumps `version`, so a concurrent write cannot be lost silently.
    __mapper_args__ = {"version_id_col": version}

    @property
    def etag(self) -> str:
        return f'"{self.id}-{self.version}"'
