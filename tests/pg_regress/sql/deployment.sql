-- The deployment the README recommends ("Deployment rules"), with the roles it has:
-- a non-superuser migration role that owns the tables (dep_migrator: LOGIN, CREATE on
-- the schema, REFERENCES on tenants), an application login role (dep_app), and a
-- superuser operator (the test's own role). Each block was an attack or a failure
-- found by an adversarial review; the output shows what happens now.
CREATE DATABASE relay_deploy;
\c relay_deploy
CREATE EXTENSION relay_tenancy;
\set ECHO none
\i include/expect_error.sql
\set ECHO all
CREATE ROLE dep_migrator LOGIN;
CREATE ROLE dep_app LOGIN;
GRANT CREATE ON SCHEMA public TO dep_migrator;
GRANT CREATE ON DATABASE relay_deploy TO dep_migrator;

-- The migration role creates and fills the reference application's tables.
SET ROLE dep_migrator;
\set ECHO none
-- (app-data.sql ends with a database-wide ANALYZE: quiet about relay's tables and the
-- catalogs, which the migration role does not own)
SET client_min_messages = error;
\i reference/app-schema.sql
\set scale 1
\i reference/app-data.sql
RESET client_min_messages;
\set ECHO all
SELECT count(*) AS tables_owned FROM pg_class WHERE relowner = 'dep_migrator'::regrole AND relkind = 'r';

-- 1a. Without REFERENCES on tenants: relay's error, the grant in its HINT, nothing changed.
\x on
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('users', global_unique => ARRAY['email']) $$);
\x off
RESET ROLE;
SELECT count(*) AS registered FROM relay.relay_tables;
GRANT REFERENCES ON relay.tenants TO dep_migrator;
-- relay_security_check accepts the grant the README asks for (a role that owns tables).
SELECT check_name, ok FROM relay_security_check() WHERE check_name = 'relay_tables_not_granted';

-- 1b. The whole reference application converts as the migration role, with no tenant
-- set: every foreign key is validated against every tenant's rows (FORCE ROW LEVEL
-- SECURITY would show the owner none of them).
SET ROLE dep_migrator;
SELECT current_setting('app.current_tenant_id', true) AS tenant_set;
\i include/enable_reference.sql
RESET ROLE;
SELECT count(*) AS registered FROM relay.relay_tables;
SELECT conrelid::regclass AS tbl, conname, convalidated, pg_get_constraintdef(oid) AS definition
  FROM pg_constraint
 WHERE contype = 'f' AND conrelid IN ('skills'::regclass, 'ratings'::regclass)
 ORDER BY 1, 2;

-- 1c. Validation is never vacuous. A child enabled into tenant dep_acme, its parent
-- then enabled into dep_globex: the composite key would have acme rows point at
-- globex rows. The key's validation sees both tenants' rows and refuses it.
SELECT relay_create_tenant('Acme', 'dep-acme', id => 'dep_acme');
SELECT relay_create_tenant('Globex', 'dep-globex', id => 'dep_globex');
SET ROLE dep_migrator;
CREATE TABLE p_parent (id int PRIMARY KEY, name text);
CREATE TABLE p_child (id int PRIMARY KEY, parent_id int REFERENCES p_parent (id));
INSERT INTO p_parent VALUES (1, 'one');
INSERT INTO p_child VALUES (1, 1);
SELECT count(*) AS steps FROM relay_enable_tenancy('p_child', default_tenant => 'dep_acme');
SELECT code, message, detail FROM expect_error($$ SELECT relay_enable_tenancy('p_parent', default_tenant => 'dep_globex') $$);
-- nothing changed: p_parent is not enabled, the key is still single-column
RESET ROLE;
SELECT count(*) AS p_parent_registered FROM relay.relay_tables WHERE relid = 'p_parent'::regclass;
SET ROLE dep_migrator;
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'p_child'::regclass AND contype = 'f' ORDER BY 1;
-- into the same tenant, it converts
SELECT count(*) AS steps FROM relay_enable_tenancy('p_parent', default_tenant => 'dep_acme');
SELECT conname, convalidated, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'p_child'::regclass AND contype = 'f' ORDER BY 1;
-- The other calls that validate keys work for the migration role too: undo and
-- re-enable p_parent (its child's key goes back to single-column and returns
-- composite, each validated against both tenants' rows), a whole schema, relay_repair.
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('p_parent');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('p_parent', default_tenant => 'dep_acme');
CREATE SCHEMA dep_more;
CREATE TABLE dep_more.parents (id int PRIMARY KEY);
CREATE TABLE dep_more.children (id int PRIMARY KEY, parent_id int REFERENCES dep_more.parents (id));
INSERT INTO dep_more.parents VALUES (1), (2);
INSERT INTO dep_more.children VALUES (1, 1), (2, 2);
SELECT count(*) > 0 AS converted FROM relay_enable_tenancy_schema('dep_more');
SELECT count(*) AS repaired FROM relay_repair() WHERE action NOT LIKE '%nothing to do%';
RESET ROLE;

-- The application role reads and writes its tenant only.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dep_app;
SET ROLE dep_app;
SELECT count(*) AS rows_without_a_tenant FROM skills;
BEGIN;
SELECT relay_set_tenant('dep_acme');
INSERT INTO users (id, email, name) VALUES ('acme-u1', 'a@acme.example', 'A');
INSERT INTO skills (id, name, slug, author_id) VALUES ('acme-s1', 'Acme skill', 'acme-skill', 'acme-u1');
SELECT id, tenant_id FROM skills;
COMMIT;
RESET ROLE;

-- 2. No path from table owner to superuser through relay_delete_tenant. The owner
-- puts a BEFORE DELETE trigger on skills that tries to make itself a superuser and
-- records who it ran as. relay_delete_tenant, called by the superuser operator,
-- deletes each table's rows as that table's owner under
-- SECURITY_RESTRICTED_OPERATION: the trigger runs as dep_migrator and its ALTER ROLE
-- fails; the tenant's rows are gone all the same.
SET ROLE dep_migrator;
CREATE TABLE trigger_log (ran_as name, attempt text);
CREATE FUNCTION escalate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    ALTER ROLE dep_migrator SUPERUSER;
    INSERT INTO public.trigger_log VALUES (current_user, 'ALTER ROLE succeeded');
  EXCEPTION WHEN OTHERS THEN
    INSERT INTO public.trigger_log VALUES (current_user, SQLSTATE || ': ' || SQLERRM);
  END;
  RETURN OLD;
END $$;
CREATE TRIGGER escalate BEFORE DELETE ON skills FOR EACH ROW EXECUTE FUNCTION escalate();
RESET ROLE;
SELECT * FROM relay_delete_tenant('dep_acme');
-- (PostgreSQL 16 and later word the refusal "permission denied to alter role":
-- expected-pg18/.)
SELECT DISTINCT ran_as, attempt FROM trigger_log;
SELECT rolsuper FROM pg_roles WHERE rolname = 'dep_migrator';
SET ROLE dep_migrator;
DROP TRIGGER escalate ON skills;
RESET ROLE;

-- 4. Inheritance: a table that inherits from a table that is not tenant-enabled is
-- refused (a query on the parent would read every tenant's rows of the child).
SET ROLE dep_migrator;
CREATE TABLE legacy_docs (id int, body text);
CREATE TABLE new_docs (extra text) INHERITS (legacy_docs);
\x on
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('new_docs') $$);
\x off
-- Parent first, then the child: both enabled.
SELECT count(*) > 0 AS parent_enabled FROM relay_enable_tenancy('legacy_docs');
SELECT count(*) > 0 AS child_enabled FROM relay_enable_tenancy('new_docs');
RESET ROLE;
-- relay_verify reports an enabled table under an open parent, should one be made
-- while relay's event triggers were disabled.
CREATE TABLE open_parent (id int);
ALTER EVENT TRIGGER relay_partition_guard DISABLE;
ALTER TABLE new_docs INHERIT open_parent;
ALTER EVENT TRIGGER relay_partition_guard ENABLE ALWAYS;
\x on
SELECT severity, object, problem, fix FROM relay_verify() WHERE problem LIKE '%inherits from%';
\x off
ALTER TABLE new_docs NO INHERIT open_parent;

-- A tenant column renamed under relay's tenant check (a uuid column, checked by a
-- trigger): relay's error, not an internal one. (Renaming it is refused like any
-- change that switches isolation off, unless the superuser says it means it.)
SET relay.allow_unsafe_ddl = on;
CREATE TABLE orgs_items (id int PRIMARY KEY, org_id uuid NOT NULL);
INSERT INTO relay.tenants (id, name, slug) VALUES ('33333333-3333-3333-3333-333333333333', 'Org Three', 'org-three');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('orgs_items', tenant_column => 'org_id');
ALTER TABLE orgs_items RENAME COLUMN org_id TO organization_id;
\x on
SELECT * FROM expect_error($$ INSERT INTO orgs_items VALUES (1, '33333333-3333-3333-3333-333333333333') $$);
\x off
ALTER TABLE orgs_items RENAME COLUMN organization_id TO org_id;
RESET relay.allow_unsafe_ddl;

-- 3. A TRIGGER privilege is no exfiltration channel. With TRIGGER granted (GRANT ALL
-- gives it), the application role would put a trigger of its own on api_keys and
-- receive every tenant's new keys (pg_notify). CREATE TRIGGER by a role whose row
-- level security applies and that does not own the table is refused, on tenant
-- tables and on relay's own; relay_security_check fails on the grant.
GRANT TRIGGER ON api_keys, relay.tenants TO dep_app;
SELECT check_name, ok, detail FROM relay_security_check() WHERE check_name = 'trigger_not_granted';
SET ROLE dep_app;
CREATE FUNCTION pg_temp.leak() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('loot', row_to_json(NEW)::text); RETURN NEW; END $$;
\x on
SELECT * FROM expect_error($$ CREATE TRIGGER leak AFTER INSERT ON api_keys FOR EACH ROW EXECUTE FUNCTION pg_temp.leak() $$);
\x off
SELECT code, message FROM expect_error($$ CREATE TRIGGER leak AFTER INSERT ON relay.tenants FOR EACH ROW EXECUTE FUNCTION pg_temp.leak() $$);
SELECT code, message FROM expect_error($$ CREATE RULE leak AS ON INSERT TO api_keys DO ALSO NOTIFY loot $$);
RESET ROLE;
SELECT count(*) AS app_triggers FROM pg_trigger WHERE tgname = 'leak';
REVOKE TRIGGER ON api_keys, relay.tenants FROM dep_app;
SELECT check_name, ok FROM relay_security_check() WHERE check_name = 'trigger_not_granted';
-- The owner still attaches its own triggers (block 2 did).

-- 8. Smaller leaks.
-- relay's own audit actions cannot be forged by the application:
SET ROLE dep_app;
BEGIN;
SELECT relay_set_tenant('dep_globex');
SELECT code, message FROM expect_error($$ SELECT relay_audit('relay.audit_purged', 'tenant', 'dep_globex') $$);
SELECT relay_audit('skill.published', 'skill', 's1') IS NOT NULL AS own_actions_work;
COMMIT;
-- vacuum and analyze counts and times (a write-activity oracle) are not PUBLIC's:
SELECT code, message FROM expect_error($$ SELECT pg_stat_get_autovacuum_count('skills'::regclass) $$);
SELECT code, message FROM expect_error($$ SELECT pg_stat_get_last_autoanalyze_time('skills'::regclass) $$);
RESET ROLE;
SELECT check_name, ok FROM relay_security_check() WHERE check_name = 'statistics_counters_private';
-- A schema named after the application role comes first in its default search_path
-- ("$user"): a relay_set_tenant there would collect every token. relay_security_check
-- fails on relay_* functions outside relay's schema (the README says: call relay's
-- functions schema-qualified).
CREATE SCHEMA dep_app AUTHORIZATION dep_app;
CREATE FUNCTION dep_app.relay_set_tenant(tenant text, token text) RETURNS text LANGUAGE sql AS $$ SELECT tenant $$;
SELECT check_name, ok, detail FROM relay_security_check() WHERE check_name = 'relay_functions_not_shadowed';
DROP SCHEMA dep_app CASCADE;
SELECT check_name, ok FROM relay_security_check() WHERE check_name = 'relay_functions_not_shadowed';
-- Capture cannot be silenced unrecorded. The owner's DISABLE TRIGGER on a capture
-- trigger is refused; a superuser's goes through with a WARNING and an entry;
-- relay_disable_audit records itself.
SELECT count(*) > 0 AS audited FROM relay_enable_audit('skills');
SET ROLE dep_migrator;
\x on
SELECT * FROM expect_error($$ ALTER TABLE skills DISABLE TRIGGER relay_audit_insert $$);
\x off
SELECT code FROM expect_error($$ DROP TRIGGER relay_audit_update ON skills $$);
RESET ROLE;
ALTER TABLE skills DISABLE TRIGGER relay_audit_delete;
ALTER TABLE skills ENABLE TRIGGER relay_audit_delete;
SELECT count(*) > 0 AS disabled FROM relay_disable_audit('skills');
SELECT action, resource_id, COALESCE(metadata ->> 'how' || ' ' || (metadata ->> 'trigger'), 'relay_disable_audit') AS what,
       metadata ->> 'by' AS by
  FROM relay.audit_logs WHERE action = 'relay.audit_disabled' ORDER BY created_at;

-- A purge also records itself in a deleted tenant's log (dep_acme was deleted above and
-- its log keeps relay.tenant_deleted): every tenant that lost entries gets one.
SELECT relay_audit_purge(now()) > 0 AS purged;
SELECT tenant_id, action, metadata ->> 'deleted' AS deleted FROM relay.audit_logs
 WHERE tenant_id = 'dep_acme' ORDER BY created_at;

\c regression
DROP DATABASE relay_deploy;
DROP ROLE dep_migrator, dep_app;
