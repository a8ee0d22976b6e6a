-- Tenant lifecycle: create, suspend, resume, delete; and cross-tenant admin work
-- through a maintenance role.
\i include/fixtures.sql
\i include/reference_app.sql
-- acme's skill acme-1 (isolation.sql), and the schemas of half_done.sql and names.sql,
-- added here when this file runs alone.
INSERT INTO skills (id, name, slug, tenant_id) VALUES ('acme-1', 'Acme skill', 'skill-1', 'acme')
  ON CONFLICT DO NOTHING;
DO $$ BEGIN
  IF to_regnamespace('legacy') IS NULL THEN CREATE SCHEMA legacy; END IF;
  IF to_regnamespace('"Tenant Data"') IS NULL THEN CREATE SCHEMA "Tenant Data"; END IF;
END $$;

SELECT relay_create_tenant('Initech', 'initech', id => 'initech', domain => 'initech.example');
SELECT length(relay_create_tenant('Hooli', 'hooli')) = 36 AS generated_uuid_id;
SELECT CASE WHEN slug = 'hooli' THEN '(generated)' ELSE id END AS id, name, slug, domain, is_active, plan
  FROM relay.tenants WHERE slug IN ('initech', 'hooli') ORDER BY slug;
\x on
SELECT * FROM expect_error($$ SELECT relay_create_tenant('Initech 2', 'initech') $$);
SELECT * FROM expect_error($$ SELECT relay_create_tenant(NULL, 'x') $$);
\x off
SELECT relay_suspend_tenant('initech');
SELECT relay_suspend_tenant('initech');
SELECT relay_resume_tenant('initech');
SELECT code, message FROM expect_error($$ SELECT relay_suspend_tenant('nobody') $$);

-- Some data for initech, written by the application (its user, by the superuser:
-- the application role has no privilege on users).
INSERT INTO users (id, email, tenant_id) VALUES ('ini-u1', 'peter@initech.example', 'initech');
SET ROLE relay_app;
BEGIN;
SELECT relay_set_tenant('initech');
INSERT INTO skills (id, name, slug) VALUES ('ini-1', 'Initech skill', 'skill-1'), ('ini-2', 'Other', 'skill-2');
INSERT INTO ratings (skill_id, user_id, rating) VALUES ('ini-1', 'ini-u1', 5);
INSERT INTO site_settings (id) VALUES ('initech');
COMMIT;
RESET ROLE;

-- Cross-tenant admin work: a maintenance role WITH BYPASSRLS reads and writes every
-- tenant's rows, with RLS still on for everyone else. (The application role, for
-- comparison, sees only the tenant it sets.)
CREATE ROLE relay_maintenance BYPASSRLS;
GRANT USAGE ON SCHEMA legacy, "Tenant Data" TO relay_maintenance;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public, relay, legacy, "Tenant Data" TO relay_maintenance;
SET ROLE relay_maintenance;
SELECT tenant_id, count(*) FROM skills GROUP BY tenant_id ORDER BY tenant_id;
UPDATE skills SET total_uses = total_uses + 1 WHERE tenant_id IN ('acme', 'initech') RETURNING id, tenant_id, total_uses;
RESET ROLE;
SET ROLE relay_app;
SELECT tenant_id, count(*) FROM skills GROUP BY tenant_id ORDER BY tenant_id;
RESET ROLE;

-- relay_delete_tenant needs a role that sees every tenant...
SET ROLE relay_app;
SELECT code, message FROM expect_error($$ SELECT relay_delete_tenant('initech') $$);
RESET ROLE;
-- ...and refuses while rows outside the tenant reference the tenant's rows:
-- foreign-key actions ignore RLS, so deleting would fail or cascade into them. Between
-- tenant-enabled tables that cannot happen (composite foreign keys: an acme row
-- cannot point at initech's skill), but a table that is not tenant-enabled can.
SELECT code, message FROM expect_error($$ INSERT INTO ratings (skill_id, user_id, rating, tenant_id) VALUES ('ini-2', 'u2', 1, 'acme') $$);
CREATE TABLE bookmarks (skill_id text REFERENCES skills(id));
GRANT SELECT ON bookmarks TO relay_maintenance;
INSERT INTO bookmarks VALUES ('ini-2');
SET ROLE relay_maintenance;
\x on
SELECT * FROM expect_error($$ SELECT relay_delete_tenant('initech') $$);
\x off
RESET ROLE;
DROP TABLE bookmarks;

-- Now it deletes the tenant's rows from every enabled table, children first, then
-- the tenant, in one transaction. Other tenants' rows are untouched.
CREATE TEMP TABLE counts_before AS
SELECT 'skills' AS t, tenant_id, count(*) FROM skills GROUP BY tenant_id
UNION ALL SELECT 'ratings', tenant_id, count(*) FROM ratings GROUP BY tenant_id;
SET ROLE relay_maintenance;
CREATE TEMP TABLE deleted AS
SELECT n, line FROM relay_delete_tenant('initech') WITH ORDINALITY AS d(line, n);
RESET ROLE;
-- The rows it deleted, in the order it deleted them (children first, the tenant last):
SELECT line FROM deleted WHERE line NOT LIKE 'deleted 0 rows from %' ORDER BY n;
-- and it went through every tenant-enabled table of the database, this file's and any
-- other's (one line each, plus the tenant's):
SELECT count(*) FILTER (WHERE line LIKE 'deleted % rows from %') = (SELECT count(*) FROM relay.relay_tables) AS every_table,
       count(*) = count(DISTINCT line) AS each_once
  FROM deleted;
SELECT count(*) AS initech_rows_left
  FROM (SELECT tenant_id FROM skills UNION ALL SELECT tenant_id FROM ratings
        UNION ALL SELECT tenant_id FROM site_settings UNION ALL SELECT tenant_id FROM users) x
 WHERE tenant_id = 'initech';
SELECT b.t, b.tenant_id, b.count = (CASE b.t WHEN 'skills' THEN (SELECT count(*) FROM skills s WHERE s.tenant_id = b.tenant_id)
                                             ELSE (SELECT count(*) FROM ratings r WHERE r.tenant_id = b.tenant_id) END) AS unchanged
  FROM counts_before b WHERE b.tenant_id <> 'initech' ORDER BY 1, 2;
SELECT count(*) AS initech_tenant FROM relay.tenants WHERE id = 'initech';
-- Its audit entries stay: the audit log is append-only.

-- The default tenant cannot be deleted; an unknown tenant is an error.
\x on
SELECT * FROM expect_error($$ SELECT relay_delete_tenant('default-tenant-000-0000-000000000000') $$);
SELECT * FROM expect_error($$ SELECT relay_delete_tenant('initech') $$);
\x off
