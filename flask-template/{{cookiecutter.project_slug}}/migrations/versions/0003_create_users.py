"""create users, and items.owner_id

Revision ID: 0003_create_users
Revises: {{ "0002_create_jobs" if cookiecutter.use_ml else "0001_create_items" }}
Create Date: 2026-01-01 00:00:02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_create_users"
down_revision = "{{ "0002_create_jobs" if cookiecutter.use_ml else "0001_create_items" }}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    # Batch mode: SQLite cannot add a foreign key to an existing table, so the table is
    # copied into a new one that has it. Other databases get a plain ALTER TABLE.
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_items_owner_id_users", "users", ["owner_id"], ["id"], ondelete="SET NULL"
        )


def downgrade():
    with op.batch_alter_table("items") as batch:
        batch.drop_constraint("fk_items_owner_id_users", type_="foreignkey")
        batch.drop_column("owner_id")
    op.drop_table("users")
