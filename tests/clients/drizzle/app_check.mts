// The application side through PgBouncer (transaction mode), as role app: pooled
// requests with withTenant(), isolation, relay's errors typed. Prints TAP lines
// numbered from argv[2] + 1; exits 1 when one fails.
import { count, countDistinct, notLike, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { NoTenantError, SuspendedTenantError, TokenRejectedError, UnknownTenantError, relayError, withTenant } from '@relay-tenancy/drizzle';
import { projects, tasks } from './schema.ts';

let n = Number(process.argv[2] ?? 0);
let failed = 0;
const check = (name: string, ok: boolean, detail = '') => {
  n++;
  console.log(ok ? `ok ${n} - ${name}` : `not ok ${n} - ${name}`);
  if (!ok) { failed++; console.log(`#   ${detail}`); }
};

const pool = new pg.Pool({ connectionString: process.env.APP_URL, max: 4 });
const db = drizzle(pool);

// Requests of two tenants, many at once over a pool of four connections (PgBouncer
// multiplexes them over its own): each writes a project and a task, and reads.
let leaks = 0;
const requests = Array.from({ length: 400 }, (_, i) => (i * 7919) % 3 === 0 ? 'globex' : 'acme');
await Promise.all(requests.map((tenant, i) => withTenant(db, tenant, async (tx) => {
  const [p] = await tx.insert(projects).values({ code: `p${i}`, name: `${tenant} ${i}` }).returning({ id: projects.id });
  await tx.insert(tasks).values({ projectId: p.id, title: `task ${i}` });
  const [{ others }] = await tx.select({ others: count() }).from(projects).where(notLike(projects.name, `${tenant} %`));
  leaks += others;
})));
check(`${requests.length} concurrent requests through PgBouncer with withTenant(): no row of the other tenant seen`, leaks === 0, `${leaks} rows leaked`);

const [{ rows }] = await db.transaction(async (tx) => tx.select({ rows: count() }).from(projects));
check('a transaction with no tenant reads no row (nothing carried over by the pool)', rows === 0, `${rows} rows`);

const seen = await withTenant(db, 'acme', async (tx) => tx.select({ rows: count(), tenants: countDistinct(projects.tenantId) }).from(projects));
check('a tenant sees only its own rows', seen[0].rows > 0 && seen[0].tenants === 1, JSON.stringify(seen));

const thrown = async (fn: () => Promise<unknown>) => { try { await fn(); return undefined; } catch (e) { return e; } };
const unknown = await thrown(() => withTenant(db, 'nobody', async (tx) => tx.execute(sql`SELECT 1`)));
check('an unknown tenant throws UnknownTenantError (22R02)', unknown instanceof UnknownTenantError && (unknown as UnknownTenantError).code === '22R02', String(unknown));
const paused = await thrown(() => withTenant(db, 'paused', async (tx) => tx.execute(sql`SELECT 1`)));
check('a suspended tenant throws SuspendedTenantError (55R03), its HINT for the application',
      paused instanceof SuspendedTenantError && /refuse/.test((paused as SuspendedTenantError).hint ?? ''), String(paused));
const bare = await thrown(() => db.insert(projects).values({ code: 'x', name: 'no tenant' }));
check("an insert with no tenant fails with 55R01 in drizzle's error (e.cause.code), mapped to NoTenantError",
      (bare as any)?.cause?.code === '55R01' && relayError(bare) instanceof NoTenantError, String(bare));

// Signed mode (role app_signed): the tenant is set only with a token the trusted tier
// minted (here a direct superuser connection), each token once.
const mint = new pg.Client({ connectionString: process.env.MINT_URL });
await mint.connect();
const { rows: [{ token }] } = await mint.query("SELECT relay_tenant_token('acme') AS token");
await mint.end();
const signedPool = new pg.Pool({ connectionString: process.env.SIGNED_URL, max: 2 });
const signed = drizzle(signedPool);
const mineSigned = await withTenant(signed, 'acme', async (tx) => tx.select({ rows: count() }).from(projects), { token });
check('signed mode: withTenant(..., { token }) sets the tenant with a minted token', mineSigned[0].rows > 0, JSON.stringify(mineSigned));
const spent = await thrown(() => withTenant(signed, 'acme', async (tx) => tx.execute(sql`SELECT 1`), { token }));
check('signed mode: a spent token throws TokenRejectedError (28R05)', spent instanceof TokenRejectedError, String(spent));
await signedPool.end();

await pool.end();
process.exit(failed ? 1 : 0);
