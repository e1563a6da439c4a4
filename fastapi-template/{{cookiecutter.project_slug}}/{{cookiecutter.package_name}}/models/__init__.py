"""SQLAlchemy models; importing this package registers every table on `Base.metadata`."""

from {{ cookiecutter.package_name }}.core.db import Base
{%- if cookiecutter.use_ml %}
from {{ cookiecutter.package_name }}.models.item import Item
from {{ cookiecutter.package_name }}.models.job import Job

__all__ = ["Base", "Item", "Job"]
{%- else %}
from {{ cookiecutter.package_name }}.models.item import Item

__all__ = ["Base", "Item"]
{%- endif %}
