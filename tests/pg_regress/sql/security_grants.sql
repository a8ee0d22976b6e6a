-- Security (how these tests run: include/security_setup.sql): privileges granted by
-- mistake: TRUNCATE, and a sloppy GRANT ALL.
\i include/fixtures.sql
\i include/security_setup.sql
\i include/security_evil.sql

-- 3. TRUNCATE ignores row level security: it is refused to every role the table's
-- row level security applies to, even with TRUNCATE granted, and to the owner.
GRANT TRUNCATE ON sec_docs TO sec_app;
SET ROLE sec_app;
SET app.current_tenant_id = 'sec_a';
SELECT * FROM expect_error($$ TRUNCATE sec_docs $$);
SELECT code, message FROM expect_error($$ TRUNCATE sec_docs CASCADE $$);
RESET ROLE;
SET ROLE sec_owner;
SELECT code, message FROM expect_error($$ TRUNCATE sec_docs $$);
RESET ROLE;
SELECT count(*) AS all_tenants_rows_still_there FROM sec_docs;
-- Roles that see every tenant may truncate (here a scratch table).
CREATE TABLE sec_scratch (id int);
SELECT count(*) AS steps FROM relay_enable_tenancy('sec_scratch');
TRUNCATE sec_scratch;
REVOKE TRUNCATE ON sec_docs FROM sec_app;

-- 4. A sloppy GRANT ALL ON ALL TABLES IN SCHEMA public no longer reaches relay's
-- tables: they live in schema relay.
GRANT ALL ON ALL TABLES IN SCHEMA public TO sec_app;
SELECT c.relname, has_table_privilege('sec_app', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER') AS sec_app_may_change
  FROM pg_class c WHERE c.relnamespace = 'relay'::regnamespace AND c.relkind IN ('r', 'v') ORDER BY 1;
-- Sloppier still, GRANT ALL ON ALL TABLES IN SCHEMA relay hands sec_app nothing of
-- relay's either: row level security with no policy, and the guards.
GRANT ALL ON ALL TABLES IN SCHEMA relay TO sec_app;
-- (and TRUNCATE everywhere, so that TRUNCATE ... CASCADE reaches relay's guard rather
-- than stopping at the first referencing table it has no privilege on)
DO $$ DECLARE s name;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname NOT IN ('information_schema', 'sec_evil') LOOP
    EXECUTE format('GRANT TRUNCATE ON ALL TABLES IN SCHEMA %I TO sec_app', s);
  END LOOP;
END $$;
SET ROLE sec_app;
SELECT (SELECT count(*) FROM relay.tenants) AS tenants_seen,
       (SELECT count(*) FROM relay.relay_tables) AS registry_seen,
       (SELECT count(*) FROM relay.relay_audit_tables) AS audit_registry_seen;
SELECT code, message FROM expect_error($$ INSERT INTO relay.tenants (id, name, slug) VALUES ('mine', 'Mine', 'mine') $$);
UPDATE relay.tenants SET is_active = true RETURNING id;
DELETE FROM relay.relay_tables RETURNING relid;
SET client_min_messages = warning;  -- (the cascade NOTICEs every referencing table)
SELECT code, message FROM expect_error($$ TRUNCATE relay.tenants CASCADE $$);
RESET client_min_messages;
SELECT code, message FROM expect_error($$ TRUNCATE relay.relay_tables $$);
SELECT code, message FROM expect_error($$ SELECT relay_create_tenant('Mine', 'mine') $$);
SELECT code, message FROM expect_error($$ SELECT relay_resume_tenant('sec_a') $$);
-- TRIGGER was granted too: a trigger on tenants would run with the privileges of
-- whoever writes tenants next. A role whose row level security applies cannot create
-- one (42501, the DDL guard); should one be there anyway (here a superuser attaches
-- sec_app's function), relay refuses to write a table of its own that carries a
-- stranger's trigger, and relay_security_check reports it.
CREATE FUNCTION sec_evil.on_tenants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO sec_evil.calls VALUES (current_user, 'trigger on tenants'); RETURN NULL; END $$;
SELECT code, message FROM expect_error($$ CREATE TRIGGER sec_spy AFTER INSERT ON relay.tenants FOR EACH STATEMENT EXECUTE FUNCTION sec_evil.on_tenants() $$);
RESET ROLE;
CREATE TRIGGER sec_spy AFTER INSERT ON relay.tenants FOR EACH STATEMENT EXECUTE FUNCTION sec_evil.on_tenants();
SELECT * FROM expect_error($$ SELECT relay_create_tenant('Sec D', 'sec-d', 'sec_d') $$);
-- (later_tables_enabled depends on the tables earlier files left: later_tables.sql shows it)
SELECT check_name, ok FROM relay_security_check() WHERE NOT ok AND check_name <> 'later_tables_enabled' ORDER BY 1;
DROP TRIGGER sec_spy ON relay.tenants;
DO $$ DECLARE s name;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname NOT IN ('information_schema', 'sec_evil') LOOP
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM sec_app', s);
  END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE, DELETE ON sec_docs TO sec_app;
SELECT count(*) AS never_called FROM sec_evil.calls;

\i include/security_teardown.sql
