"""the application's tables, before tenancy

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "projects",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.UniqueConstraint("code", name="projects_code_key"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("project_id", sa.BigInteger, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
    )
    op.create_index("ix_tasks_project_id", "tasks", ["project_id"])
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON projects, tasks TO app")
    op.execute("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app")


def downgrade():
    op.drop_table("tasks")
    op.drop_table("projects")
