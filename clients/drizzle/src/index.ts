/**
 * relay_tenancy for Drizzle ORM.
 *
 * - `tenantColumn()`, `relayPolicies()` and `.enableRLS()` make a Drizzle schema
 *   describe what `relay_enable_tenancy` creates, so `drizzle-kit generate` after the
 *   conversion (a `--custom` migration calling relay) finds nothing to change, and
 *   adding the tenant column to the schema later does not plan `ADD COLUMN`.
 * - `relaySchemaFilter` keeps relay's own schema out of drizzle-kit (`schemaFilter`).
 * - `withTenant(db, tenant, fn)` runs `fn` in a transaction whose tenant is set
 *   (`SET LOCAL`: behind PgBouncer in transaction mode nothing leaks to the next
 *   request), with a token in signed mode.
 * - `relayError(e)` maps relay's SQLSTATEs (`e.code`, or `e.cause.code` as drizzle
 *   wraps driver errors) to typed errors.
 */
import { sql, type SQL } from 'drizzle-orm';
import { pgPolicy, pgSchema, text, type PgPolicy } from 'drizzle-orm/pg-core';

/**
 * relay's tenant registry, `relay.tenants` (its key only), for the foreign key of a
 * tenant column: `foreignKey({ name: 'projects_tenant_id_fkey', columns: [t.tenantId],
 * foreignColumns: [relayTenants.id] })`. Do not export it from your schema file:
 * drizzle-kit would then plan to create it.
 */
export const relayTenants = pgSchema('relay').table('tenants', { id: text('id').primaryKey() });

/** PostgreSQL's quote_ident for a plain name (what relay writes in its defaults and policies). */
function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** A regclass literal the way PostgreSQL prints it back: `'projects'::regclass`. */
function regclass(table: string): string {
  return `'${table.replace(/'/g, "''")}'::regclass`;
}

/**
 * relay's tenant column of `table` (text NOT NULL, its default the session's tenant,
 * as relay_enable_tenancy sets it). `table` as PostgreSQL prints it: `projects`, or
 * `app.projects` outside the search_path.
 */
export function tenantColumn(table: string, name = 'tenant_id') {
  return text(name)
    .notNull()
    .default(sql.raw(`relay.relay_insert_tenant(${regclass(table)})`));
}

/** The tenant rule of relay's policies on `table`. */
function tenantRule(table: string, column: string): SQL {
  return sql.raw(`(${quoteIdent(column)} = ( SELECT relay.relay_policy_tenant(${regclass(table)}) AS relay_policy_tenant))`);
}

/**
 * relay's two policies on `table`: RESTRICTIVE `tenant_isolation` (ANDed with every
 * other policy) and PERMISSIVE `tenant_access` (relay adds it when the table has no
 * permissive policy of its own; pass `access: false` if it had one). Use with
 * `.enableRLS()`; relay also forces row level security, which Drizzle does not model.
 */
export function relayPolicies(table: string, options: { column?: string; access?: boolean } = {}): PgPolicy[] {
  const rule = tenantRule(table, options.column ?? 'tenant_id');
  const policies = [pgPolicy('tenant_isolation', { as: 'restrictive', for: 'all', using: rule, withCheck: rule })];
  if (options.access ?? true) {
    policies.push(pgPolicy('tenant_access', { as: 'permissive', for: 'all', using: rule, withCheck: rule }));
  }
  return policies;
}

/** drizzle.config.ts `schemaFilter`: the application's schemas, never relay's. */
export const relaySchemaFilter = ['public'];

/** The SQL `relay_enable_tenancy` call for a `drizzle-kit generate --custom` migration. */
export function enableTenancySql(table: string, options: Record<string, string | boolean | string[]> = {}): string {
  const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const args = Object.entries(options).map(([k, v]) => {
    const value = Array.isArray(v) ? `ARRAY[${v.map(lit).join(', ')}]::text[]` : typeof v === 'boolean' ? String(v) : lit(v);
    return `, ${k} => ${value}`;
  });
  return `SELECT public.relay_enable_tenancy(${lit(table)}${args.join('')});`;
}

/** Errors relay raises with SQLSTATEs of its own (README "Errors an application can branch on"). */
export class RelayError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly detail?: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
/** 55R01: no tenant set for the transaction. */
export class NoTenantError extends RelayError {}
/** 22R02: the tenant does not exist. */
export class UnknownTenantError extends RelayError {}
/** 55R03: the tenant is suspended (refuse the request, e.g. HTTP 403). */
export class SuspendedTenantError extends RelayError {}
/** 55R04: signed mode has no usable token key (for the DBA). */
export class TokenKeyMissingError extends RelayError {}
/** 28R05: the tenant token was refused (mint a fresh one). */
export class TokenRejectedError extends RelayError {}

const BY_CODE: Record<string, new (m: string, c: string, d?: string, h?: string, o?: { cause?: unknown }) => RelayError> = {
  '55R01': NoTenantError,
  '22R02': UnknownTenantError,
  '55R03': SuspendedTenantError,
  '55R04': TokenKeyMissingError,
  '28R05': TokenRejectedError,
};

interface PgErrorLike {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
  hint?: unknown;
  cause?: unknown;
}

/** The typed error for `e` (a node-postgres error, or drizzle's wrapping of one), or undefined. */
export function relayError(e: unknown): RelayError | undefined {
  for (let err = e as PgErrorLike | undefined, depth = 0; err && depth < 5; err = err.cause as PgErrorLike, depth++) {
    const code = typeof err.code === 'string' ? err.code : undefined;
    const Type = code ? BY_CODE[code] : undefined;
    if (Type && code) {
      const s = (v: unknown) => (typeof v === 'string' ? v : undefined);
      return new Type(s(err.message) ?? code, code, s(err.detail), s(err.hint), { cause: e });
    }
  }
  return undefined;
}

/** Anything with drizzle's `transaction` (a node-postgres or postgres.js database). */
interface Transactional<Tx> {
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}
interface Executes {
  execute(query: SQL): Promise<unknown>;
}

/**
 * Run `fn` in a transaction of `db` whose tenant is `tenant`; with `token` (signed
 * mode), the token form. relay's errors are thrown as RelayError subclasses.
 */
export async function withTenant<Tx extends Executes, T>(
  db: Transactional<Tx>,
  tenant: string,
  fn: (tx: Tx) => Promise<T>,
  options: { token?: string; actor?: string } = {},
): Promise<T> {
  try {
    return await db.transaction(async (tx) => {
      // schema-qualified: a function of that name in the login role's own schema
      // ("$user" comes first in the default search_path) would receive the tokens
      if (options.token !== undefined) {
        await tx.execute(sql`SELECT public.relay_set_tenant(${tenant}, ${options.token}, ${options.actor ?? null})`);
      } else {
        await tx.execute(sql`SELECT public.relay_set_tenant(${tenant})`);
      }
      return fn(tx);
    });
  } catch (e) {
    throw relayError(e) ?? e;
  }
}
