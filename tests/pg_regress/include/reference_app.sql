\set ECHO none
-- The reference application in public as enable_reference.sql leaves it (schema and
-- data loaded, the nine tables converted with the same calls), with isolation.sql's
-- grants to relay_app, made when it is missing: for the files after enable_reference
-- in the schedule that use it, so that each runs alone too. Quiet, and safe to run
-- again; needs include/fixtures.sql first.
SELECT current_setting('client_min_messages') AS reference_client_min_messages \gset
SET client_min_messages = warning;
SELECT to_regclass('public.skills') IS NULL AS reference_need_load \gset
\if :reference_need_load
\i reference/app-schema.sql
\set scale 1
\i reference/app-data.sql
\endif
SELECT NOT EXISTS (SELECT FROM relay.relay_tables WHERE relid = 'public.skills'::regclass) AS reference_need_enable \gset
\if :reference_need_enable
\o /dev/null
\i include/enable_reference.sql
\o
\endif
GRANT SELECT, INSERT, UPDATE, DELETE ON skills, ratings, site_settings TO relay_app;
SET client_min_messages = :'reference_client_min_messages';
\unset reference_client_min_messages
\unset reference_need_load
\unset reference_need_enable
\set ECHO all
