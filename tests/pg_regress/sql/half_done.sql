-- A table the reference migrations left half-done: 0003 added a nullable tenant_id,
-- 0004's backfill stopped part-way, and 0005 added its index, foreign key and a
-- policy of its own (without FORCE). relay_enable_tenancy completes it: backfills
-- only the NULL rows, enforces NOT NULL, keeps the reference's index and foreign
-- key rather than duplicating them, and replaces the policy with relay's.
\i include/fixtures.sql
CREATE SCHEMA legacy;
CREATE TABLE legacy.notes (id int PRIMARY KEY, body text NOT NULL, tenant_id text);
INSERT INTO legacy.notes (id, body) SELECT g, 'note ' || g FROM generate_series(1, 10) g;
UPDATE legacy.notes SET tenant_id = 'default-tenant-000-0000-000000000000' WHERE id <= 4;
UPDATE legacy.notes SET tenant_id = 'acme' WHERE id = 5;
CREATE INDEX notes_tenant_id_idx ON legacy.notes (tenant_id);
ALTER TABLE legacy.notes ADD CONSTRAINT notes_tenant_id_fk FOREIGN KEY (tenant_id) REFERENCES relay.tenants(id);
ALTER TABLE legacy.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON legacy.notes FOR ALL
  USING (tenant_id = current_setting('app.current_tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.current_tenant_id', true));

-- The plan: SHARE ROW EXCLUSIVE first (writers wait, readers go on) so no NULL can
-- slip in behind the backfill; the backfill; then the catalog-only steps.
SELECT step, lock, action FROM relay_tenancy_plan('legacy.notes') ORDER BY step;
SELECT relay_enable_tenancy('legacy.notes');

SELECT tenant_id, count(*) FROM legacy.notes GROUP BY tenant_id ORDER BY tenant_id;
\d legacy.notes
-- The replaced policy is in the registry as it was.
SELECT s -> 'replaces' -> 'policy' ->> 'qual' AS old_policy_using
  FROM relay.relay_tables, jsonb_array_elements(history -> 0 -> 'steps') s
 WHERE relid = 'legacy.notes'::regclass AND s ->> 'kind' = 'drop_policy';
SELECT relay_enable_tenancy('legacy.notes');

-- Rows can also be assigned to another tenant than the default one.
CREATE TABLE legacy.imports (id int PRIMARY KEY);
INSERT INTO legacy.imports SELECT generate_series(1, 3);
SELECT relay_enable_tenancy('legacy.imports', default_tenant => 'globex');
SELECT tenant_id, count(*) FROM legacy.imports GROUP BY tenant_id;
