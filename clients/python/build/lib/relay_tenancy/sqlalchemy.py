"""The tenant per transaction with SQLAlchemy.

`install()` adds an `after_begin` listener: a session whose `info` names a tenant
starts each transaction with `SELECT public.relay_set_tenant(...)`, which is
`SET LOCAL`: it ends with the transaction, so behind PgBouncer in transaction mode
(or any pool) a connection never carries one request's tenant into the next.
`tenant_session()` is the usual way to get such a session; `tenant_column()` makes a
model match what relay_enable_tenancy creates.
"""

from contextlib import contextmanager
from typing import Iterator, Optional

from sqlalchemy import Column, FetchedValue, Text, event, text
from sqlalchemy.orm import Session

from .errors import mapped_errors

TENANT = "relay_tenant"
TOKEN = "relay_token"
ACTOR = "relay_actor"

# schema-qualified: a function of that name in the login role's own schema ("$user"
# comes first in the default search_path) would otherwise receive the tokens
_SET_OPEN = text("SELECT public.relay_set_tenant(:tenant)")
_SET_SIGNED = text("SELECT public.relay_set_tenant(:tenant, :token, :actor)")


def _after_begin(session: Session, transaction, connection) -> None:
    tenant = session.info.get(TENANT)
    if tenant is None:
        return
    # a token is single-use: it serves the first transaction after it was given
    token = session.info.pop(TOKEN, None)
    if token is None:
        connection.execute(_SET_OPEN, {"tenant": tenant})
    else:
        connection.execute(_SET_SIGNED, {"tenant": tenant, "token": token, "actor": session.info.get(ACTOR)})


def install(target=Session) -> None:
    """Listen on `target` (a Session class, sessionmaker or session; all sessions by
    default). Idempotent."""
    if not event.contains(target, "after_begin", _after_begin):
        event.listen(target, "after_begin", _after_begin)


@contextmanager
def tenant_session(
    session_factory, tenant: str, *, token: Optional[str] = None, actor: Optional[str] = None
) -> Iterator[Session]:
    """A session from `session_factory` whose transaction runs as `tenant` (with a
    token minted by the trusted tier in signed mode); committed when the block ends,
    rolled back on an error. relay's errors come out as RelayError subclasses."""
    with session_factory() as session:
        session.info[TENANT] = tenant
        if token is not None:
            session.info[TOKEN] = token
        if actor is not None:
            session.info[ACTOR] = actor
        with mapped_errors():
            with session.begin():
                yield session


def tenant_column(name: str = "tenant_id", type_=Text) -> Column:
    """The tenant column as relay_enable_tenancy creates it (NOT NULL, its default the
    session's tenant, filled by the server): declare it on every tenant-enabled model
    so that autogenerate sees no difference and inserts leave it to the server."""
    return Column(name, type_, nullable=False, server_default=FetchedValue())
