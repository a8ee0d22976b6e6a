"""relay_tenancy's SQLSTATEs (README "Errors an application can branch on") as
exceptions: each a standard class with a subclass of relay's, so a driver that only
knows the class files it as before, and `relay_error` tells them apart."""

from contextlib import contextmanager
from typing import Iterator, Optional


class RelayError(Exception):
    """An error relay_tenancy raised with a SQLSTATE of its own."""

    sqlstate = ""

    def __init__(self, message: str, *, detail: Optional[str] = None, hint: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint


class NoTenant(RelayError):
    """55R01: no tenant is set for the transaction (the application sets it)."""

    sqlstate = "55R01"


class UnknownTenant(RelayError):
    """22R02: the tenant named does not exist."""

    sqlstate = "22R02"


class SuspendedTenant(RelayError):
    """55R03: the tenant is suspended (refuse the request, e.g. HTTP 403)."""

    sqlstate = "55R03"


class TokenKeyMissing(RelayError):
    """55R04: signed mode has no usable token key (for the DBA)."""

    sqlstate = "55R04"


class TokenRejected(RelayError):
    """28R05: the tenant token was refused (mint a fresh one)."""

    sqlstate = "28R05"


BY_SQLSTATE = {c.sqlstate: c for c in (NoTenant, UnknownTenant, SuspendedTenant, TokenKeyMissing, TokenRejected)}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what SQLAlchemy wraps (`.orig`), and its causes."""
    seen = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([getattr(e, "orig", None), e.__cause__, e.__context__])


def sqlstate_of(exc: BaseException) -> Optional[str]:
    """The SQLSTATE of a psycopg error (`.sqlstate`), a psycopg2 one (`.pgcode`), or
    the driver error a SQLAlchemy `DBAPIError` wraps."""
    for e in _chain(exc):
        code = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


def relay_error(exc: BaseException) -> Optional[RelayError]:
    """The RelayError for `exc`, or None when it is not one of relay's."""
    code = sqlstate_of(exc)
    cls = BY_SQLSTATE.get(code or "")
    if cls is None:
        return None
    for e in _chain(exc):
        diag = getattr(e, "diag", None)
        if diag is not None and getattr(diag, "sqlstate", None) == code:
            return cls(diag.message_primary or str(e), detail=diag.message_detail, hint=diag.message_hint)
    return cls(str(exc))


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Raise relay's errors as RelayError subclasses (the driver error as __cause__)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - re-raised as is when not relay's
        mapped = relay_error(exc)
        if mapped is None:
            raise
        raise mapped from exc
