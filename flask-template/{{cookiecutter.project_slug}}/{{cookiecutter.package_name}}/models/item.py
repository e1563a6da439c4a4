from datetime import datetime
from typing import Any

{% if cookiecutter.use_auth -%}
from sqlalchemy import DateTime, Float, ForeignKey, String
{% else -%}
from sqlalchemy import DateTime, Float, String
{% endif -%}
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import JsonColumn, Model, utcnow


class Item(Model):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(1000))
    price: Mapped[float] = mapped_column(Float)
    tags: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    dimensions: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn)
{%- if cookiecutter.use_auth %}
    # Who created it; null for items older than users, or whose owner was deleted.
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_items_owner_id_users")
    )
{%- endif %}
    # Bumped by SQLAlchemy on every UPDATE, which also checks it was not changed meanwhile.
    version: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def etag(self) -> str:
        return f'"{self.id}-{self.version}"'
