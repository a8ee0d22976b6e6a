-- Tenants are isolated for application roles and for the table's own (non-superuser)
-- owner. Uses the reference tables enabled in enable_reference (include/reference_app.sql
-- when this file runs alone), the tenants acme and globex and the role relay_app
-- (include/fixtures.sql).
\i include/fixtures.sql
\i include/reference_app.sql

GRANT SELECT, INSERT, UPDATE, DELETE ON skills, ratings, site_settings TO relay_app;
SET ROLE relay_app;

-- No tenant set: nothing is visible (under relay.require_tenant it is an error: tenant_context).
SELECT count(*) FROM skills;

-- The default tenant sees the rows that were there before.
SET app.current_tenant_id = 'default-tenant-000-0000-000000000000';
SELECT count(*) FROM skills;
RESET app.current_tenant_id;

BEGIN;
SET LOCAL app.current_tenant_id = 'acme';
-- A second tenant sees none of the default tenant's rows.
SELECT count(*) FROM skills;
SELECT count(*) FROM ratings;
-- An insert that does not name tenant_id lands in the session's tenant. The slug
-- 'skill-1' is taken in the default tenant, but unique keys are per tenant now.
INSERT INTO skills (id, name, slug) VALUES ('acme-1', 'Acme skill', 'skill-1')
RETURNING id, slug, tenant_id;
-- Primary keys are left as they are, so the singleton site_settings row (id
-- 'default') is still one row for all tenants: a second tenant cannot add its own
-- and learns that the id exists (reference NOTES.md 7 and 8; README "Limits").
SELECT * FROM expect_error($$ INSERT INTO site_settings (id) VALUES ('default') $$);
-- Updates and deletes of another tenant's rows touch nothing.
UPDATE skills SET name = 'hijacked' WHERE id = 's1' RETURNING id;
DELETE FROM skills WHERE id = 's2' RETURNING id;
-- Writing a row into another tenant is refused by the policy's WITH CHECK.
SELECT * FROM expect_error($$
  INSERT INTO skills (id, name, slug, tenant_id)
  VALUES ('x', 'x', 'x', 'default-tenant-000-0000-000000000000') $$);
SELECT * FROM expect_error($$ UPDATE skills SET tenant_id = 'globex' WHERE id = 'acme-1' $$);
SELECT id, name, tenant_id FROM skills ORDER BY id;
COMMIT;

-- SET LOCAL has ended: PostgreSQL now returns '' for the setting, which relay
-- treats as unset. Nothing is visible, and an insert without a tenant fails loudly
-- instead of landing in the default tenant.
SELECT current_setting('app.current_tenant_id', true) = '' AS empty_not_null;
SELECT count(*) FROM skills;
SELECT * FROM expect_error($$ INSERT INTO skills (id, name, slug) VALUES ('y', 'y', 'y') $$);

-- Another tenant does not see acme's row.
SET app.current_tenant_id = 'globex';
SELECT count(*) FROM skills;
RESET app.current_tenant_id;
RESET ROLE;

-- The default tenant's rows were not touched by acme.
SELECT id, name, tenant_id FROM skills WHERE id IN ('s1', 's2') ORDER BY id;

-- The policy reads the setting once per query (an InitPlan), not once per row, and
-- tenant_id = $0 stays an index condition.
SET ROLE relay_app;
SET app.current_tenant_id = 'acme';
SET enable_seqscan = off;
-- (PostgreSQL 17 and later print the InitPlan's output as (InitPlan 1).col1 instead of $0:
-- expected-pg18/.)
EXPLAIN (COSTS OFF) SELECT * FROM skills WHERE slug = 'skill-1';
EXPLAIN (COSTS OFF) SELECT count(*) FROM ratings;
RESET enable_seqscan;
RESET app.current_tenant_id;
RESET ROLE;

-- A non-superuser owner is isolated too (FORCE ROW LEVEL SECURITY). Enabling needs
-- the table's ownership and REFERENCES on tenants (for the tenant foreign key); relay
-- records the table in its registry itself (README: "Privileges").
CREATE ROLE relay_owner;
GRANT CREATE ON SCHEMA public TO relay_owner;
GRANT REFERENCES ON relay.tenants TO relay_owner;
SET ROLE relay_owner;
CREATE TABLE owned_notes (id int PRIMARY KEY, body text);
INSERT INTO owned_notes VALUES (1, 'old note');
SELECT relay_enable_tenancy('owned_notes');
SELECT count(*) FROM owned_notes;
SET app.current_tenant_id = 'acme';
INSERT INTO owned_notes (id, body) VALUES (2, 'acme note');
SELECT * FROM owned_notes ORDER BY id;
SET app.current_tenant_id = 'default-tenant-000-0000-000000000000';
SELECT * FROM owned_notes ORDER BY id;
RESET app.current_tenant_id;
RESET ROLE;
