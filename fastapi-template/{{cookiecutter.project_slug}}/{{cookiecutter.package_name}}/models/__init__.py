"""SQLAlchemy models; importing this package registers every table on `Base.metadata`."""

from {{ cookiecutter.package_name }}.core.db import Base
from {{ cookiecutter.package_name }}.models.item import Item
{%- if cookiecutter.use_ml %}
from {{ cookiecutter.package_name }}.models.job import Job
{%- endif %}
{%- if cookiecutter.use_auth %}
from {{ cookiecutter.package_name }}.models.user import User
{%- endif %}

__all__ = ["Base", "Item"{% if cookiecutter.use_ml %}, "Job"{% endif %}{% if cookiecutter.use_auth %}, "User"{% endif %}]
