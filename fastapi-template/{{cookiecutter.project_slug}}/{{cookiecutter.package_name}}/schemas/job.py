from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from {{ cookiecutter.package_name }}.models.job import JobStatus
from {{ cookiecutter.package_name }}.schemas.item import Timestamp
from {{ cookiecutter.package_name }}.schemas.ml import ImageRow, Prediction


class JobCreate(BaseModel):
    """The same body as a prediction request, with room for many more rows."""

    model_config = ConfigDict(extra="forbid")

    inputs: Annotated[list[ImageRow], Field(min_length=1, max_length=10_000)]


class JobResult(BaseModel):
    predictions: list[Prediction]


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    status: JobStatus
    result: JobResult | None
    error: str | None
    created_at: Timestamp
    updated_at: Timestamp
