"""The application side through PgBouncer (transaction mode), as role app: pooled
requests, each in its tenant's transaction; relay's errors typed. Prints TAP lines,
numbered from argv[1] + 1; exits 1 when one fails."""

import os
import random
import sys

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.orm import sessionmaker

from models import projects, tasks
from relay_tenancy import NoTenant, SuspendedTenant, UnknownTenant, relay_error
from relay_tenancy.sqlalchemy import install, tenant_session

n = int(sys.argv[1])
failed = 0


def check(name, ok, detail=""):
    global n, failed
    n += 1
    print(f"ok {n} - {name}" if ok else f"not ok {n} - {name}")
    if not ok:
        failed += 1
        print(f"#   {detail}")


engine = create_engine(
    os.environ["APP_URL"], pool_size=4, max_overflow=0, connect_args={"prepare_threshold": None}
)
Session = sessionmaker(engine)
install(Session)

# Requests of two tenants interleaved over a pool of four connections (PgBouncer
# multiplexes them over its own): each writes a project and a task, and reads.
random.seed(7)
leaks = 0
requests = 0
for i in range(400):
    tenant = random.choice(["acme", "globex"])
    with tenant_session(Session, tenant) as s:
        pid = s.execute(
            insert(projects).values(code=f"p{i}", name=f"{tenant} {i}").returning(projects.c.id)
        ).scalar_one()
        s.execute(insert(tasks).values(project_id=pid, title=f"task {i}"))
        seen = s.execute(select(func.count()).select_from(projects).where(~projects.c.name.like(f"{tenant} %"))).scalar_one()
        leaks += seen
        requests += 1
check(f"{requests} pooled requests through PgBouncer: no row of the other tenant seen", leaks == 0, f"{leaks} rows leaked")

with Session() as s:  # no tenant: the pool's connections carry none over
    with s.begin():
        check("a session with no tenant reads no row (nothing carried over by the pool)",
              s.execute(select(func.count()).select_from(projects)).scalar_one() == 0)

with tenant_session(Session, "acme") as s:
    mine = s.execute(select(func.count()).select_from(projects)).scalar_one()
    tenants = s.execute(select(func.count(func.distinct(projects.c.tenant_id)))).scalar_one()
check("a tenant sees only its own rows", mine > 0 and tenants == 1, f"{mine} rows, {tenants} tenants")

# relay's errors, typed
try:
    with tenant_session(Session, "nobody") as s:
        s.execute(select(1))
    check("an unknown tenant raises UnknownTenant (22R02)", False, "no error")
except UnknownTenant as e:
    check("an unknown tenant raises UnknownTenant (22R02)", e.sqlstate == "22R02" and "nobody" in e.message)

try:
    with tenant_session(Session, "paused") as s:
        s.execute(select(1))
    check("a suspended tenant raises SuspendedTenant (55R03)", False, "no error")
except SuspendedTenant as e:
    check("a suspended tenant raises SuspendedTenant (55R03)", bool(e.hint) and "refuse" in e.hint, e.hint)

try:
    with Session() as s:
        with s.begin():
            s.execute(insert(projects).values(code="x", name="no tenant"))
    check("an insert with no tenant raises NoTenant (55R01)", False, "no error")
except Exception as e:  # noqa: BLE001 - mapped by hand here, as an application would
    mapped = relay_error(e)
    check("an insert with no tenant raises NoTenant (55R01), mapped from SQLAlchemy's error",
          isinstance(mapped, NoTenant), repr(e))

with engine.connect() as c:  # the raw driver error carries the code too
    try:
        c.execute(text("SELECT public.relay_set_tenant('nobody')"))
    except Exception as e:  # noqa: BLE001
        check("e.orig.sqlstate is relay's code", getattr(e.orig, "sqlstate", None) == "22R02", repr(e))

# Signed mode (role app_signed): the tenant is set only with a token the trusted tier
# minted (here a direct superuser connection), each token once.
from relay_tenancy import TokenRejected  # noqa: E402

mint = create_engine(os.environ["MINT_URL"])
signed = create_engine(os.environ["SIGNED_URL"], pool_size=2, max_overflow=0, connect_args={"prepare_threshold": None})
SignedSession = sessionmaker(signed)
install(SignedSession)
with mint.connect() as c:
    token = c.execute(text("SELECT relay_tenant_token('acme')")).scalar_one()
with tenant_session(SignedSession, "acme", token=token) as s:
    mine = s.execute(select(func.count()).select_from(projects)).scalar_one()
check("signed mode: tenant_session(..., token=...) sets the tenant with a minted token", mine > 0, f"{mine} rows")
try:
    with tenant_session(SignedSession, "acme", token=token) as s:
        s.execute(select(1))
    check("signed mode: a spent token raises TokenRejected (28R05)", False, "no error")
except TokenRejected as e:
    check("signed mode: a spent token raises TokenRejected (28R05)", e.sqlstate == "28R05")

sys.exit(1 if failed else 0)
