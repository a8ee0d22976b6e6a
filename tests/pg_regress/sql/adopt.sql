-- Adopting a tenant column the schema already has: tenant_column => 'organization_id'
-- (text, uuid, bigint or integer) instead of adding tenant_id. The policy, the
-- default, the unique-key rewrites and the composite foreign keys use it; the session
-- tenant is compared as the column's type. tenants.id is text, so a uuid column cannot
-- reference it with a foreign key: relay checks the existing rows once, and new rows
-- with a trigger.
--
-- Existing organizations become tenants in one statement, e.g.
--   INSERT INTO tenants (id, name, slug) SELECT id::text, name, id::text FROM organizations
--   ON CONFLICT DO NOTHING;
\i include/fixtures.sql
CREATE TABLE ad_organizations (id uuid PRIMARY KEY, name text NOT NULL);
INSERT INTO ad_organizations VALUES ('11111111-1111-1111-1111-111111111111', 'Org One'),
                                    ('22222222-2222-2222-2222-222222222222', 'Org Two');
CREATE TABLE ad_projects (id int PRIMARY KEY, organization_id uuid NOT NULL, name text NOT NULL UNIQUE);
CREATE TABLE ad_tasks (id int PRIMARY KEY, organization_id uuid NOT NULL,
                       project_id int REFERENCES ad_projects (id) ON DELETE CASCADE, title text);
INSERT INTO ad_projects VALUES (1, '11111111-1111-1111-1111-111111111111', 'alpha'),
                               (2, '22222222-2222-2222-2222-222222222222', 'beta');
INSERT INTO ad_tasks VALUES (1, '11111111-1111-1111-1111-111111111111', 1, 'one'),
                            (2, '22222222-2222-2222-2222-222222222222', 2, 'two');

-- Before the organizations are tenants, enabling refuses and says how to register them.
\x on
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('ad_projects', tenant_column => 'organization_id') $$);
\x off
INSERT INTO relay.tenants (id, name, slug)
SELECT id::text, name, id::text FROM ad_organizations ON CONFLICT DO NOTHING;

SELECT * FROM relay_enable_tenancy('ad_projects', tenant_column => 'organization_id');
SELECT count(*) AS steps FROM relay_enable_tenancy('ad_tasks', tenant_column => 'organization_id');
SELECT conrelid::regclass AS tbl, conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid IN ('ad_projects'::regclass, 'ad_tasks'::regclass) AND contype IN ('u', 'f') ORDER BY 1, 2;
SELECT polname, pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polrelid = 'ad_tasks'::regclass ORDER BY 1;
SELECT relid::text, tenant_column FROM relay.relay_tables WHERE relid::text LIKE 'ad\_%' ORDER BY 1;
-- Re-running changes nothing; another tenant column is refused.
SELECT * FROM relay_enable_tenancy('ad_tasks');
SELECT code, message FROM expect_error($$ SELECT relay_enable_tenancy('ad_tasks', tenant_column => 'tenant_id') $$);

CREATE ROLE ad_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ad_projects, ad_tasks TO ad_app;
SET ROLE ad_app;
BEGIN;
SELECT relay_set_tenant('11111111-1111-1111-1111-111111111111');
SELECT id, title FROM ad_tasks ORDER BY id;
-- the default fills in the organization; a reference to another organization's
-- project fails like a missing row
INSERT INTO ad_tasks (id, project_id, title) VALUES (3, 1, 'three') RETURNING id, organization_id;
SELECT code, message FROM expect_error($$ INSERT INTO ad_tasks (id, project_id, title) VALUES (4, 2, 'other org') $$);
-- the unique key is per organization now
INSERT INTO ad_projects (id, name) VALUES (3, 'beta') RETURNING id, name;
COMMIT;
-- A session tenant that is not a uuid names no row (and cannot insert).
BEGIN;
SET LOCAL app.current_tenant_id = 'acme';
SELECT count(*) AS tasks_visible FROM ad_tasks;
SELECT code, message FROM expect_error($$ INSERT INTO ad_tasks (id, title) VALUES (5, 'x') $$);
COMMIT;
RESET ROLE;
-- A row naming an organization that is not a tenant is refused, as a foreign key would.
SELECT * FROM expect_error($$ INSERT INTO ad_tasks VALUES (6, '33333333-3333-3333-3333-333333333333', NULL, 'x') $$);

-- Capture records the row's organization as its tenant.
SELECT count(*) AS steps FROM relay_enable_audit('ad_tasks');
SET ROLE ad_app;
BEGIN;
SELECT relay_set_tenant('22222222-2222-2222-2222-222222222222');
UPDATE ad_tasks SET title = 'two!' WHERE id = 2;
COMMIT;
RESET ROLE;
SELECT action, tenant_id, resource_id FROM relay.audit_logs WHERE resource_type = 'public.ad_tasks';

-- Deleting a tenant deletes its rows through the adopted column.
SELECT * FROM relay_delete_tenant('22222222-2222-2222-2222-222222222222') l WHERE l LIKE '%ad\_%' OR l LIKE 'deleted tenant%';

-- Refusals: no such column, a type tenants cannot be keyed by.
CREATE TABLE ad_bad (id int PRIMARY KEY, org numeric);
SELECT code, message FROM expect_error($$ SELECT relay_enable_tenancy('ad_bad', tenant_column => 'organization_id') $$);
SELECT code, message FROM expect_error($$ SELECT relay_enable_tenancy('ad_bad', tenant_column => 'org') $$);
