"""Create the users table, and give every item an owner.

Revision ID: 0003_create_users
Revises: {% if cookiecutter.use_ml %}0002_create_jobs{% else %}0001_create_items{% endif %}
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_create_users"
down_revision: str | None = "{% if cookiecutter.use_ml %}0002_create_jobs{% else %}0001_create_items{% endif %}"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    # SQLite cannot add a foreign key to a table: batch mode rebuilds the table there, rows
    # and all, and issues plain ALTER TABLE statements elsewhere. Existing items get no owner.
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_items_owner_id_users", "users", ["owner_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_constraint("fk_items_owner_id_users", type_="foreignkey")
        batch.drop_column("owner_id")
    op.drop_table("users")
