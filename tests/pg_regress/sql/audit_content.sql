-- Deterministic content: the same change is recorded the same way whatever the
-- session's DateStyle, TimeZone, IntervalStyle, bytea_output and extra_float_digits:
-- dates and times as to_jsonb prints them in UTC (ISO 8601), intervals in the
-- postgres style, bytea in hex, floats with every digit. A json value holding
-- \u0000 (which jsonb cannot hold) is kept as its text. Capture needs a UTF8
-- database (refused elsewhere, 0A000).
\i include/fixtures.sql
\set VERBOSITY verbose
CREATE TABLE typed_values (
  id int PRIMARY KEY, d date, ts timestamp, tstz timestamptz, t time, ttz timetz,
  iv interval, b bytea, f4 real, f8 double precision, n numeric, j json, jb jsonb);
SELECT count(*) > 0 AS audited FROM relay_enable_audit('typed_values');

-- One session's settings...
BEGIN;
SELECT relay_set_tenant('default-tenant-000-0000-000000000000', true);
SET LOCAL DateStyle = 'SQL, DMY';
SET LOCAL TimeZone = 'America/New_York';
SET LOCAL IntervalStyle = 'sql_standard';
SET LOCAL bytea_output = 'escape';
SET LOCAL extra_float_digits = -3;
INSERT INTO typed_values VALUES (1, '2026-03-01', '2026-03-01 12:34:56.789', '2026-03-01 12:34:56.789+02',
  '12:34:56', '12:34:56+02', '1 day 02:03:04', '\x00ff41', 0.1, 0.1, 12.50, '{"a": "x\u0000y"}', '{"k": [1, 2]}');
COMMIT;
-- ...and another's, for the same values.
BEGIN;
SELECT relay_set_tenant('default-tenant-000-0000-000000000000', true);
SET LOCAL DateStyle = 'German';
SET LOCAL TimeZone = 'Asia/Kolkata';
SET LOCAL IntervalStyle = 'iso_8601';
SET LOCAL bytea_output = 'hex';
SET LOCAL extra_float_digits = 3;
INSERT INTO typed_values VALUES (2, '2026-03-01', '2026-03-01 12:34:56.789', '2026-03-01 12:34:56.789+02',
  '12:34:56', '12:34:56+02', '1 day 02:03:04', '\x00ff41', 0.1, 0.1, 12.50, '{"a": "x\u0000y"}', '{"k": [1, 2]}');
-- The session's own settings are untouched by capture.
SHOW DateStyle;
SHOW TimeZone;
COMMIT;

-- Both entries hold the same values (but the id)...
SELECT (a.metadata->'new') - 'id' = (b.metadata->'new') - 'id' AS same
  FROM relay.audit_logs a, relay.audit_logs b
 WHERE a.resource_type = 'public.typed_values' AND a.resource_id = '1'
   AND b.resource_type = 'public.typed_values' AND b.resource_id = '2';
-- ...in these forms (to_jsonb's for dates and times, in UTC):
SELECT key, value FROM relay.audit_logs, jsonb_each(metadata->'new')
 WHERE resource_type = 'public.typed_values' AND resource_id = '1' ORDER BY key;
SET TimeZone = 'UTC';
SELECT to_jsonb(d) AS d, to_jsonb(ts) AS ts, to_jsonb(tstz) AS tstz, to_jsonb(ttz) AS ttz FROM typed_values WHERE id = 1;
RESET TimeZone;

SELECT count(*) > 0 AS disabled FROM relay_disable_audit('typed_values');
DROP TABLE typed_values;
