import re
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import JsonColumn, Model, utcnow

PENDING = "PENDING"
STARTED = "STARTED"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"


JOB_ID = re.compile(r"[0-9a-f]{32}")


def new_job_id() -> str:
    return uuid.uuid4().hex


def is_job_id(value: str) -> bool:
    """Whether `value` has the shape of the ids `new_job_id` makes."""
    return JOB_ID.fullmatch(value) is not None


class Job(Model):
    """A prediction job; the row is the job's state, shared by every process."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_job_id)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    inputs: Mapped[list[list[float]]] = mapped_column(JsonColumn)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
