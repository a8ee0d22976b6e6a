"""The application's models after its migrations: each tenant-enabled table declares
relay's tenant column, so autogenerate compares like with like."""

from sqlalchemy import BigInteger, Column, ForeignKey, Index, MetaData, Table, Text, UniqueConstraint

from relay_tenancy.sqlalchemy import tenant_column

metadata = MetaData()

projects = Table(
    "projects",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("code", Text, nullable=False),
    Column("name", Text, nullable=False),
    tenant_column(),
    UniqueConstraint("code", name="projects_code_key"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("project_id", BigInteger, ForeignKey("projects.id"), nullable=False),
    Column("title", Text, nullable=False),
    tenant_column(),
    Index("ix_tasks_project_id", "project_id"),
)
