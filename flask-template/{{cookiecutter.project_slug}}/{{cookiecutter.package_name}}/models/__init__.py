"""SQLAlchemy models. Importing this package registers every table on `db.metadata`."""

from .item import Item
{%- if cookiecutter.use_ml %}
from .job import Job
{%- endif %}
{%- if cookiecutter.use_auth %}
from .user import User
{%- endif %}

__all__ = ["Item"{% if cookiecutter.use_ml %}, "Job"{% endif %}{% if cookiecutter.use_auth %}, "User"{% endif %}]
