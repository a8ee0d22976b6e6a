"""relay_tenancy for Python: the tenant per transaction (SQLAlchemy), migrations
(Alembic), and relay's SQLSTATEs as exceptions (psycopg, SQLAlchemy).

    from relay_tenancy import sqlalchemy as relay_sa
    relay_sa.install()                      # every Session
    with relay_sa.tenant_session(Session, "acme") as session:
        session.execute(...)                # row level security: acme's rows only
"""

from .errors import (
    BY_SQLSTATE,
    NoTenant,
    RelayError,
    SuspendedTenant,
    TokenKeyMissing,
    TokenRejected,
    UnknownTenant,
    mapped_errors,
    relay_error,
    sqlstate_of,
)

__all__ = [
    "BY_SQLSTATE",
    "NoTenant",
    "RelayError",
    "SuspendedTenant",
    "TokenKeyMissing",
    "TokenRejected",
    "UnknownTenant",
    "mapped_errors",
    "relay_error",
    "sqlstate_of",
]
__version__ = "0.3.0"
