"""create jobs

Revision ID: 0002_create_jobs
Revises: 0001_create_items
Create Date: 2026-01-01 00:00:01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_create_jobs"
down_revision = "0001_create_items"
branch_labels = None
depends_on = None

json_column = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade():
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("inputs", json_column, nullable=False),
        sa.Column("result", json_column, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("jobs")
