// The database after the migrations, compared with drizzle-kit's snapshot of
// schema.ts (migrations/meta, the last one): every column default and NOT NULL of
// the tenant tables, unique constraints, foreign keys, indexes, policies and the
// row level security flag. Prints one line: "<n> compared" or the differences.
import { readFileSync, readdirSync } from 'node:fs';
import pg from 'pg';

const dir = 'migrations/meta';
const last = readdirSync(dir).filter((f) => f.endsWith('_snapshot.json')).sort().pop()!;
const snapshot = JSON.parse(readFileSync(`${dir}/${last}`, 'utf8'));
const client = new pg.Client({ connectionString: process.env.DATABASE_URL?.replace('postgresql+psycopg', 'postgresql') });
await client.connect();
const q = async (sql: string, args: unknown[]) => (await client.query(sql, args)).rows;
const diffs: string[] = [];
let compared = 0;
const same = (what: string, want: unknown, got: unknown) => {
  compared++;
  if (JSON.stringify(want) !== JSON.stringify(got)) diffs.push(`${what}: schema.ts says ${JSON.stringify(want)}, the database has ${JSON.stringify(got)}`);
};
for (const table of Object.values<any>(snapshot.tables)) {
  const rel = `public.${table.name}`;
  for (const col of Object.values<any>(table.columns)) {
    const [c] = await q(`SELECT a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS def FROM pg_attribute a
                          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                          WHERE a.attrelid = $1::regclass AND a.attname = $2`, [rel, col.name]);
    same(`${rel}.${col.name} NOT NULL`, col.notNull, c?.attnotnull);
    if (col.default !== undefined && !String(col.default).startsWith('nextval')) same(`${rel}.${col.name} default`, col.default, c?.def);
  }
  for (const u of Object.values<any>(table.uniqueConstraints)) {
    const [k] = await q(`SELECT array(SELECT attname FROM unnest(conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute ON attrelid = conrelid AND attnum = k.n ORDER BY k.i)::text[] AS cols
                          FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2 AND contype = 'u'`, [rel, u.name]);
    same(`unique ${u.name}`, u.columns, k?.cols);
  }
  for (const f of Object.values<any>(table.foreignKeys)) {
    const [k] = await q(`SELECT array(SELECT attname FROM unnest(conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute ON attrelid = conrelid AND attnum = k.n ORDER BY k.i)::text[] AS cols,
                                array(SELECT attname FROM unnest(confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute ON attrelid = confrelid AND attnum = k.n ORDER BY k.i)::text[] AS refcols,
                                confrelid::regclass::text AS reftable
                          FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2 AND contype = 'f'`, [rel, f.name]);
    same(`foreign key ${f.name}`, [f.columnsFrom, f.columnsTo, f.schemaTo ? `${f.schemaTo}.${f.tableTo}` : f.tableTo], [k?.cols, k?.refcols, k?.reftable]);
  }
  for (const i of Object.values<any>(table.indexes)) {
    const [k] = await q(`SELECT ix.indisunique, array(SELECT attname FROM unnest(ix.indkey) WITH ORDINALITY k(n, i) JOIN pg_attribute ON attrelid = ix.indrelid AND attnum = k.n ORDER BY k.i)::text[] AS cols
                          FROM pg_index ix JOIN pg_class c ON c.oid = ix.indexrelid WHERE ix.indrelid = $1::regclass AND c.relname = $2`, [rel, i.name]);
    same(`index ${i.name}`, [i.isUnique, i.columns.map((c: any) => c.expression)], [k?.indisunique, k?.cols]);
  }
  for (const p of Object.values<any>(table.policies)) {
    const [k] = await q(`SELECT permissive, cmd, qual, with_check FROM pg_policies WHERE schemaname = 'public' AND tablename = $1 AND policyname = $2`, [table.name, p.name]);
    same(`policy ${p.name} on ${rel}`, [p.as, p.for, p.using, p.withCheck], [k?.permissive, k?.cmd, k?.qual, k?.with_check]);
  }
  const [r] = await q(`SELECT relrowsecurity FROM pg_class WHERE oid = $1::regclass`, [rel]);
  same(`${rel} row level security`, table.isRLSEnabled, r?.relrowsecurity);
}
await client.end();
console.log(diffs.length === 0 ? `${compared} compared` : diffs.join('\n'));
process.exit(diffs.length === 0 ? 0 : 1);
