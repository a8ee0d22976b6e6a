-- Referential isolation: when both ends of a foreign key are tenant-enabled, relay
-- makes it composite, (tenant_id, cols) REFERENCES parent (tenant_id, key), so a row
-- can only reference a row of its own tenant. Actions and deferrability are kept.
-- Whichever end is enabled second does it: here the children first.
\i include/fixtures.sql
INSERT INTO relay.tenants (id, name, slug) VALUES ('ref_a', 'Ref A', 'ref-a'), ('ref_b', 'Ref B', 'ref-b');
CREATE TABLE ref_projects (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE ref_tasks (
  id int PRIMARY KEY,
  project_id int REFERENCES ref_projects (id) ON DELETE CASCADE,
  parent_task int REFERENCES ref_tasks (id) DEFERRABLE INITIALLY DEFERRED,
  title text NOT NULL);
CREATE TABLE ref_comments (
  id int PRIMARY KEY,
  task_id int REFERENCES ref_tasks (id) ON DELETE SET NULL,
  project_id int NOT NULL REFERENCES ref_projects (id) ON DELETE RESTRICT,
  body text);
INSERT INTO ref_projects VALUES (1, 'old project');
INSERT INTO ref_tasks VALUES (1, 1, NULL, 'old task');

-- ref_tasks first: ref_projects is not enabled yet, so that key stays as it is; the
-- self-reference becomes composite at once.
SELECT * FROM relay_enable_tenancy('ref_tasks');
SELECT count(*) AS steps FROM relay_enable_tenancy('ref_comments');
-- ref_projects second: it upgrades the keys from both children.
SELECT * FROM relay_enable_tenancy('ref_projects');
SELECT conrelid::regclass AS child, conname, pg_get_constraintdef(oid) AS definition
  FROM pg_constraint
 WHERE contype = 'f' AND conrelid IN ('ref_projects'::regclass, 'ref_tasks'::regclass, 'ref_comments'::regclass)
   AND confrelid <> 'relay.tenants'::regclass
 ORDER BY 1, 2;
-- Running it again changes nothing.
SELECT * FROM relay_enable_tenancy('ref_projects');
SELECT * FROM relay_enable_tenancy('ref_tasks');

CREATE ROLE ref_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ref_projects, ref_tasks, ref_comments TO ref_app;
SET ROLE ref_app;
BEGIN;
SET LOCAL app.current_tenant_id = 'ref_b';
INSERT INTO ref_projects VALUES (20, 'b project');
INSERT INTO ref_tasks VALUES (20, 20, NULL, 'b task');
COMMIT;
BEGIN;
SET LOCAL app.current_tenant_id = 'ref_a';
INSERT INTO ref_projects VALUES (10, 'a project');
-- Within a tenant everything works as before, deferred keys included: the child
-- first, its parent later in the same transaction.
INSERT INTO ref_tasks VALUES (11, 10, 12, 'a subtask');
INSERT INTO ref_tasks VALUES (12, 10, NULL, 'a task');
INSERT INTO ref_comments VALUES (100, 11, 10, 'a comment');
COMMIT;
-- A reference to another tenant's row fails like a reference to a missing row
-- (23503), and does not say the row exists.
SET app.current_tenant_id = 'ref_a';
SELECT * FROM expect_error($$ INSERT INTO ref_tasks VALUES (13, 20, NULL, 'points at ref_b') $$);
SELECT code, message FROM expect_error($$ INSERT INTO ref_comments VALUES (101, 20, 10, 'b task') $$);
SELECT code, message FROM expect_error($$ UPDATE ref_tasks SET project_id = 20 WHERE id = 11 $$);
-- ON DELETE SET NULL clears the task reference, never tenant_id.
DELETE FROM ref_tasks WHERE id = 11;
SELECT id, task_id, project_id, tenant_id FROM ref_comments ORDER BY id;
-- ON DELETE RESTRICT still restricts; ON DELETE CASCADE reaches the tenant's own rows only.
-- (PostgreSQL 18 reports a RESTRICT key with 23001, restrict_violation: expected-pg18/.)
SELECT code, message FROM expect_error($$ DELETE FROM ref_projects WHERE id = 10 $$);
DELETE FROM ref_comments WHERE id = 100;
DELETE FROM ref_projects WHERE id = 10 RETURNING id;
SELECT id, tenant_id FROM ref_tasks ORDER BY id;
RESET app.current_tenant_id;
RESET ROLE;
SELECT id, project_id, tenant_id FROM ref_tasks ORDER BY id;

-- Existing rows that reference another tenant's row: the conversion fails on the
-- composite key's validation and changes nothing.
CREATE TABLE ref_owners (id int PRIMARY KEY);
CREATE TABLE ref_pets (id int PRIMARY KEY, owner_id int REFERENCES ref_owners (id), tenant_id text);
INSERT INTO ref_owners VALUES (1);
SELECT count(*) AS steps FROM relay_enable_tenancy('ref_owners');
INSERT INTO ref_pets VALUES (1, 1, 'ref_b');
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('ref_pets') $$);
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ref_pets_owner_id_fkey';

-- Keys that cannot take tenant_id as they are, and keys to a table of another role,
-- are refused with a hint; nothing is changed.
CREATE TABLE ref_a1 (a int, b int, PRIMARY KEY (a, b));
CREATE TABLE ref_a2 (id int PRIMARY KEY, a int, b int, FOREIGN KEY (a, b) REFERENCES ref_a1 MATCH FULL);
CREATE TABLE ref_u1 (id int PRIMARY KEY);
CREATE TABLE ref_u2 (id int PRIMARY KEY, u int REFERENCES ref_u1 ON UPDATE SET NULL);
SELECT count(*) AS steps FROM relay_enable_tenancy('ref_a1');
SELECT count(*) AS steps FROM relay_enable_tenancy('ref_u1');
\x on
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('ref_a2') $$);
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('ref_u2') $$);
\x off
CREATE ROLE ref_owner;
GRANT CREATE ON SCHEMA public TO ref_owner;
GRANT REFERENCES ON relay.tenants, ref_u1 TO ref_owner;
SET ROLE ref_owner;
CREATE TABLE ref_u3 (id int PRIMARY KEY, u int REFERENCES ref_u1);
\x on
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('ref_u3') $$);
\x off
RESET ROLE;

-- A unique key referenced by foreign keys from tenant-enabled tables is rewritten
-- together with them: the keys are dropped, the unique key becomes (tenant_id, code),
-- and the keys come back composite.
CREATE TABLE ref_codes (id int PRIMARY KEY, code text NOT NULL UNIQUE);
CREATE TABLE ref_uses (id int PRIMARY KEY, code text REFERENCES ref_codes (code) ON DELETE CASCADE);
SELECT count(*) AS steps FROM relay_enable_tenancy('ref_uses');
SELECT step, lock, statement FROM relay_tenancy_plan('ref_codes')
 WHERE statement ~ 'CONSTRAINT (ref_uses_code_fkey|ref_codes_code_key)' ORDER BY step;
SELECT count(*) AS steps FROM relay_enable_tenancy('ref_codes');
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conname IN ('ref_uses_code_fkey', 'ref_codes_code_key') ORDER BY 1;

-- Per-tenant primary keys (primary_key => 'tenant'): PRIMARY KEY (id) becomes
-- (tenant_id, id), with the foreign keys that reference it, so each tenant has its own
-- key space: a singleton such as a settings row 'default' exists once per tenant, and
-- inserting another tenant's id tells nothing.
CREATE TABLE ref_settings (id text PRIMARY KEY, theme text);
CREATE TABLE ref_setting_notes (id int PRIMARY KEY, setting_id text REFERENCES ref_settings (id));
SELECT count(*) AS steps FROM relay_enable_tenancy('ref_setting_notes');
SELECT * FROM relay_enable_tenancy('ref_settings', primary_key => 'tenant');
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid IN ('ref_settings'::regclass, 'ref_setting_notes'::regclass) AND contype IN ('p', 'f')
   AND confrelid IS DISTINCT FROM 'relay.tenants'::regclass ORDER BY 1;
GRANT SELECT, INSERT ON ref_settings, ref_setting_notes TO ref_app;
SET ROLE ref_app;
SET app.current_tenant_id = 'ref_a';
INSERT INTO ref_settings VALUES ('default', 'dark');
INSERT INTO ref_setting_notes VALUES (1, 'default');
SET app.current_tenant_id = 'ref_b';
INSERT INTO ref_settings VALUES ('default', 'light');
SELECT id, theme, tenant_id FROM ref_settings ORDER BY id;
RESET app.current_tenant_id;
RESET ROLE;
-- A primary key referenced from a table that is not tenant-enabled stays as it is.
CREATE TABLE ref_g1 (id int PRIMARY KEY);
CREATE TABLE ref_g2 (id int PRIMARY KEY, g1 int REFERENCES ref_g1 (id));
\x on
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('ref_g1', primary_key => 'tenant') $$);
\x off
SELECT code, message FROM expect_error($$ SELECT relay_enable_tenancy('ref_g1', primary_key => 'mine') $$);

-- keep_foreign_keys keeps chosen foreign keys single-column. The registry records the
-- choice, so the other end, enabled later, keeps them too, and so do re-runs.
CREATE TABLE ref_k1 (id int PRIMARY KEY);
CREATE TABLE ref_k2 (id int PRIMARY KEY, k1 int REFERENCES ref_k1 (id), k1b int REFERENCES ref_k1 (id));
SELECT count(*) AS steps FROM relay_enable_tenancy('ref_k2', keep_foreign_keys => ARRAY['ref_k2_k1_fkey']);
SELECT count(*) AS steps FROM relay_enable_tenancy('ref_k1');
SELECT * FROM relay_enable_tenancy('ref_k2');
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'ref_k2'::regclass AND contype = 'f' AND confrelid <> 'relay.tenants'::regclass ORDER BY 1;
SELECT keep_foreign_keys FROM relay.relay_tables WHERE relid = 'ref_k2'::regclass;
-- relay_security_check lists foreign keys between tenant tables that are not composite:
-- here only the one kept on request.
SELECT check_name, ok, detail FROM relay_security_check() WHERE check_name = 'foreign_keys_composite';
