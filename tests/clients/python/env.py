"""Alembic environment of the client test: the database through PgBouncer
(transaction mode), relay's operations and autogenerate filter."""

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

import relay_tenancy.alembic as relay_alembic
from models import metadata

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name)

# PgBouncer in transaction mode (before 1.21) cannot keep prepared statements:
# psycopg must not prepare any.
engine = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool, connect_args={"prepare_threshold": None})
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # (RELAY_NO_FILTER: the test shows what autogenerate would propose without it)
        include_object=None if os.environ.get("RELAY_NO_FILTER") else relay_alembic.include_object(),
    )
    with context.begin_transaction():
        context.run_migrations()
