"""tenant-enable the tables (relay_tenancy)

Revision ID: 0002
Revises: 0001
"""
from alembic import op

import relay_tenancy.alembic  # noqa: F401  (registers op.relay_enable_tenancy)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.relay_enable_tenancy("projects")
    op.relay_enable_tenancy("tasks", views="report")  # (relay's options pass through)


def downgrade():
    op.relay_disable_tenancy("tasks", drop_column=True)
    op.relay_disable_tenancy("projects", drop_column=True)
