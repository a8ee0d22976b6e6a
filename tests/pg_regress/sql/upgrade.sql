-- ALTER EXTENSION relay_tenancy UPDATE from 0.1.0 (its install script is kept in
-- sql/archive) to 0.2.0, with tables enabled and audited under 0.1.0 while the
-- server already runs the 0.2.0 library: everything keeps working, the new
-- functions arrive, and the catalog then matches a fresh 0.2.0 install object by
-- object.
CREATE DATABASE relay_upgrade;
\c relay_upgrade
\set VERBOSITY verbose
\set ECHO none
\i reference/app-schema.sql
\set scale 1
\i reference/app-data.sql
\set ECHO all
CREATE EXTENSION relay_tenancy VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'relay_tenancy';
\i include/enable_reference.sql
SELECT count(*) AS steps FROM relay_enable_audit('skills');
SELECT relay_create_tenant('Acme', 'acme', id => 'acme');
CREATE ROLE upgrade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, skills, ratings, usage_events, skill_versions, skill_embeddings,
  skill_reviews, api_keys, site_settings TO upgrade_app;
GRANT TRUNCATE ON site_settings TO upgrade_app;
SET ROLE upgrade_app;
BEGIN;
SELECT relay_set_tenant('acme', true);
INSERT INTO skills (name, slug) VALUES ('Before the update', 'before');
COMMIT;
RESET ROLE;
-- 0.1.0 has no relay_verify.
SELECT count(*) FROM pg_proc WHERE proname = 'relay_verify';

ALTER EXTENSION relay_tenancy UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'relay_tenancy';

-- The application carries on: the tenant context, isolation, capture.
SET ROLE upgrade_app;
BEGIN;
SELECT relay_set_tenant('acme', true);
INSERT INTO skills (name, slug) VALUES ('After the update', 'after');
SELECT name, slug FROM skills ORDER BY slug;
SELECT action, resource_type FROM relay.audit_logs ORDER BY created_at, action;
COMMIT;
TRUNCATE site_settings;
RESET ROLE;
-- The new functions work on tables enabled under 0.1.0.
SELECT severity, count(*) FROM relay_verify() GROUP BY severity ORDER BY severity;
SELECT table_name, problems, cardinality(composite_foreign_keys) AS composite
  FROM relay.relay_tenancy_status ORDER BY table_name::text;
SELECT count(*) AS steps FROM relay_disable_tenancy('site_settings', drop_column => true);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('site_settings');
DROP EXTENSION relay_tenancy;

-- The catalog matches a fresh 0.2.0 install: every function (signature, result,
-- strictness, volatility, SECURITY DEFINER, pinned search_path, privileges), table,
-- column, default, constraint, index, policy, trigger, view, event trigger and
-- configuration-table filter.
\set ECHO none
\i include/fingerprint.sql
\set ECHO all
SELECT string_agg(f, E'\n' ORDER BY f) AS upgraded FROM pg_temp.fingerprint() f \gset
CREATE DATABASE relay_fresh;
\c relay_fresh
CREATE EXTENSION relay_tenancy;
\set ECHO none
\i include/fingerprint.sql
\set ECHO all
SELECT count(*) > 200 AS compared FROM pg_temp.fingerprint();
(SELECT 'only after the update: ' || x FROM regexp_split_to_table(:'upgraded', E'\n') x
 EXCEPT SELECT 'only after the update: ' || f FROM pg_temp.fingerprint() f)
UNION ALL
(SELECT 'only in a fresh install: ' || f FROM pg_temp.fingerprint() f
 EXCEPT SELECT 'only in a fresh install: ' || x FROM regexp_split_to_table(:'upgraded', E'\n') x)
ORDER BY 1;

\c regression
DROP DATABASE relay_upgrade;
DROP DATABASE relay_fresh;
DROP ROLE upgrade_app;
