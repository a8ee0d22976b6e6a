\set ECHO none
-- What the test files share, made when it is missing, so that each file runs alone
-- (scripts/regress.sh NAME) as it runs in the schedule, whatever ran before it:
-- the extension (extension.sql, first in the schedule, creates it itself), expect_error,
-- the application role relay_app, the tenants acme and globex (isolation.sql and the
-- files after it) and sec_a and sec_b (the security_* files, signed, hostile_inputs).
-- Every file that uses the regression database starts with \i include/fixtures.sql;
-- the files that work in a database of their own need none of it. Quiet: its only
-- trace in the output is the \i line and the "\set ECHO none" above. Safe to run again.
SELECT current_setting('client_min_messages') AS fixtures_client_min_messages \gset
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS relay_tenancy;
SELECT to_regprocedure('expect_error(text)') IS NULL AS fixtures_need_expect_error \gset
\if :fixtures_need_expect_error
\i include/expect_error.sql
\endif
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'relay_app') THEN
    CREATE ROLE relay_app;
  END IF;
END $$;
INSERT INTO relay.tenants (id, name, slug) VALUES ('acme', 'Acme', 'acme'), ('globex', 'Globex', 'globex'),
  ('sec_a', 'Sec A', 'sec-a'), ('sec_b', 'Sec B', 'sec-b')
  ON CONFLICT DO NOTHING;
SET client_min_messages = :'fixtures_client_min_messages';
\unset fixtures_client_min_messages
\unset fixtures_need_expect_error
\set ECHO all
