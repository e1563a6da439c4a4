"""SQLAlchemy models. Importing this package registers every table on `db.metadata`."""

from .item import Item
{%- if cookiecutter.use_ml %}
from .job import Job
{%- endif %}

__all__ = ["Item"{% if cookiecutter.use_ml %}, "Job"{% endif %}]
