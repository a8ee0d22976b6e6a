-- Signed tenant context (opt-in). In relay.context_mode = signed the tenant of a role
-- subject to row level security can only be set with a token the trusted tier
-- minted: <expiry>[:<nonce>].<hex HMAC-SHA256(key, tenant || '.' || expiry[:nonce])>,
-- each accepted once. The key comes from a file (relay.token_key_file) owned by the
-- server's user, mode 0600: a key in a setting would be written to the server log on
-- every reload. (A DBA sets both in postgresql.conf or with ALTER SYSTEM; a superuser
-- may also SET them in a session, as here.) Uses sec_docs, sec_app and tenants sec_a,
-- sec_b (include/security_setup.sql) and sec_app's logging operators
-- (include/security_evil.sql).
\i include/fixtures.sql
\i include/security_setup.sql
\i include/security_evil.sql
-- HMAC-SHA256 (RFC 2104) written with PostgreSQL's own sha256(): the trusted tier's
-- view of a token, in a language other than relay's (no pgcrypto needed, so the same on
-- every PostgreSQL major), checked against RFC 4231's second test vector.
CREATE FUNCTION pg_temp.hmac_sha256(msg text, key text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  k bytea := convert_to(key, 'UTF8');
  inner_key bytea;
  outer_key bytea;
BEGIN
  IF length(k) > 64 THEN k := sha256(k); END IF;
  k := k || decode(repeat('00', 64 - length(k)), 'hex');
  inner_key := k;
  outer_key := k;
  FOR i IN 0..63 LOOP
    inner_key := set_byte(inner_key, i, get_byte(k, i) # 54);
    outer_key := set_byte(outer_key, i, get_byte(k, i) # 92);
  END LOOP;
  RETURN encode(sha256(outer_key || sha256(inner_key || convert_to(msg, 'UTF8'))), 'hex');
END $$;
SELECT pg_temp.hmac_sha256('what do ya want for nothing?', 'Jefe')
       = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' AS rfc4231_case_2;
SET relay.context_mode = signed;
-- The key file here is written by the test harness next to the tests (scripts/lib.sh
-- write_test_key: owned by the server's user, mode 0600).
\set key_file `echo "$PWD/relay_token.key"`
SELECT set_config('relay.token_key_file', :'key_file', false) <> '' AS key_file_set;
-- No key sits in a setting.
SHOW relay.token_key;

-- A token minted in SQL by a privileged role carries a random nonce (two tokens minted
-- in the same second differ)...
SELECT relay_tenant_token('sec_a', '1 hour') ~ '^[0-9]+:[0-9a-f]{16}\.[0-9a-f]{64}$' AS token_shape,
       relay_tenant_token('sec_a', '1 hour') <> relay_tenant_token('sec_a', '1 hour') AS unique_per_call;
-- ...and is what any HMAC-SHA256 implementation computes (here the one above) for its
-- signed part, so the trusted tier can mint tokens in its own language (a token made
-- that way is used below).
SELECT split_part(t, '.', 2) = pg_temp.hmac_sha256('sec_a.' || split_part(t, '.', 1), '0123456789abcdef0123456789abcdef') AS same_as_rfc2104,
       split_part(split_part(t, '.', 1), ':', 1)::bigint - extract(epoch FROM now())::bigint BETWEEN 3590 AND 3610 AS valid_for_an_hour
  FROM relay_tenant_token('sec_a', '1 hour') t;
CREATE TABLE tokens AS
SELECT 'sec_a' AS tenant, '4102444800.' || pg_temp.hmac_sha256('sec_a.4102444800', '0123456789abcdef0123456789abcdef') AS token
UNION ALL SELECT 'sec_a2', relay_tenant_token('sec_a', '1 hour')
UNION ALL SELECT 'sec_a3', relay_tenant_token('sec_a', '1 hour')
UNION ALL SELECT 'sec_b', relay_tenant_token('sec_b', '1 hour')
UNION ALL SELECT 'unknown', relay_tenant_token('no-such-tenant', '1 hour')
UNION ALL SELECT 'expired', '1000.' || pg_temp.hmac_sha256('sec_a.1000', '0123456789abcdef0123456789abcdef');
GRANT SELECT ON tokens TO sec_app;
SELECT code, message FROM expect_error($$ SELECT relay_tenant_token('sec_a', '-5 minutes') $$);

SET ROLE sec_app;
-- Direct settings are refused for a role subject to row level security (42501)...
SELECT * FROM expect_error($$ SET app.current_tenant_id = 'sec_b' $$);
SELECT code, message FROM expect_error($$ SELECT set_config('app.current_tenant_id', 'sec_b', true) $$);
SELECT code, message FROM expect_error($$ SET app.current_actor_id = 'someone-else' $$);
SELECT code, message FROM expect_error($$ ALTER ROLE sec_app SET app.current_tenant_id = 'sec_b' $$);
SELECT code, message FROM expect_error($$ SELECT relay_set_tenant('sec_b') $$);
-- ...and so is reading the key or minting a token.
-- (PostgreSQL 16 and later say "permission denied to examine": expected-pg18/.)
SELECT code, message FROM expect_error($$ SHOW relay.token_key $$);
SELECT code, message FROM expect_error($$ SELECT current_setting('relay.token_key') $$);
SELECT code, message FROM expect_error($$ SELECT relay_tenant_token('sec_b') $$);
SELECT code, message FROM expect_error($$ SET relay.context_mode = open $$);

-- With a valid token the tenant (and, optionally, the actor) is set for the transaction.
BEGIN;
SELECT relay_set_tenant('sec_a', (SELECT token FROM tokens WHERE tenant = 'sec_a'), actor => 'user-1');
SELECT current_setting('app.current_tenant_id') AS tenant, current_setting('app.current_actor_id') AS actor;
SELECT id FROM sec_docs ORDER BY id;
COMMIT;
-- The token form runs no SQL of the caller's either: with sec_app's logging operators
-- first in search_path, none is called.
SELECT token AS sec_a_token FROM tokens WHERE tenant = 'sec_a2' \gset
SET search_path = sec_evil, pg_catalog, public;
BEGIN;
SELECT relay_set_tenant('sec_a', :'sec_a_token');
COMMIT;
RESET search_path;
SELECT count(*) AS evil_calls FROM sec_evil.calls;
-- Each token is accepted once. Another session of the same login role could read a
-- request's token in pg_stat_activity (while it runs, or idles in its transaction)
-- and replay it: refused with the same answer as any bad token; the used token stays
-- spent until it expires (a replay cache in shared memory; the library is preloaded).
BEGIN;
SELECT code, message FROM expect_error($$ SELECT relay_set_tenant('sec_a', (SELECT token FROM tokens WHERE tenant = 'sec_a')) $$);
SELECT code, message FROM expect_error($$ SELECT relay_set_tenant('sec_a', (SELECT token FROM tokens WHERE tenant = 'sec_a2')) $$);
COMMIT;
-- A refused call does not spend a token: sec_a3 is still good after a failed try
-- (wrong tenant), then spent.
BEGIN;
SELECT code FROM expect_error($$ SELECT relay_set_tenant('sec_b', (SELECT token FROM tokens WHERE tenant = 'sec_a3')) $$);
SELECT relay_set_tenant('sec_a', (SELECT token FROM tokens WHERE tenant = 'sec_a3'));
COMMIT;
-- relay.token_reuse = on (superuser-only) accepts a token until it expires: weaker,
-- for deployments that cannot mint a token per request.
SELECT code, message FROM expect_error($$ SET relay.token_reuse = on $$);
RESET ROLE;
SET relay.token_reuse = on;
SET ROLE sec_app;
BEGIN;
SELECT relay_set_tenant('sec_a', (SELECT token FROM tokens WHERE tenant = 'sec_a3'));
COMMIT;
RESET ROLE;
RESET relay.token_reuse;
SET ROLE sec_app;
-- A token for another tenant, an expired one, a malformed one, one for a tenant that
-- does not exist and one for a suspended tenant all get the same answer (28000), so
-- tokens cannot be used to learn which tenants exist; nothing is set.
BEGIN;
SELECT * FROM expect_error($$ SELECT relay_set_tenant('sec_b', (SELECT token FROM tokens WHERE tenant = 'sec_a')) $$);
SELECT code, message FROM expect_error($$ SELECT relay_set_tenant('sec_a', (SELECT token FROM tokens WHERE tenant = 'expired')) $$);
SELECT code, message FROM expect_error($$ SELECT relay_set_tenant('sec_a', 'not-a-token') $$);
SELECT code, message FROM expect_error($$ SELECT relay_set_tenant('sec_a', NULL) $$);
SELECT code, message FROM expect_error($$ SELECT relay_set_tenant('no-such-tenant', (SELECT token FROM tokens WHERE tenant = 'unknown')) $$);
RESET ROLE;
SELECT relay_suspend_tenant('sec_b');
SET ROLE sec_app;
SELECT code, message FROM expect_error($$ SELECT relay_set_tenant('sec_b', (SELECT token FROM tokens WHERE tenant = 'sec_b')) $$);
SELECT current_setting('app.current_tenant_id', true) = '' AS nothing_set;
COMMIT;
RESET ROLE;
SELECT relay_resume_tenant('sec_b');
SET ROLE sec_app;
-- Clearing is always allowed: it can only take rows away.
RESET app.current_tenant_id;
SET app.current_tenant_id = '';
RESET ROLE;

-- Roles that see every tenant (superusers, BYPASSRLS) may still set it directly.
SET app.current_tenant_id = 'sec_b';
RESET app.current_tenant_id;

-- Without a key, signed mode refuses tokens, and relay_security_check says why.
SET relay.token_key_file = '';
SET ROLE sec_app;
BEGIN;
SELECT code, message FROM expect_error($$ SELECT relay_set_tenant('sec_a', (SELECT token FROM tokens WHERE tenant = 'sec_a')) $$);
COMMIT;
RESET ROLE;
SELECT check_name, ok FROM relay_security_check() WHERE check_name IN ('context_mode', 'preloaded') ORDER BY 1;
-- A key file others may read, or a missing one, is refused with what is wrong. (COPY
-- TO makes files readable by everyone, mode 0644.)
DO $$ BEGIN
  EXECUTE format('COPY (SELECT %L) TO %L', '0123456789abcdef0123456789abcdef', current_setting('data_directory') || '/relay_open.key');
END $$;
SELECT set_config('relay.token_key_file', current_setting('data_directory') || '/relay_open.key', false) <> '' AS open_file_set;
SET ROLE sec_app;
BEGIN;
SELECT code, message, regexp_replace(detail, '/\S*/', '<data directory>/') AS detail
  FROM expect_error($$ SELECT relay_set_tenant('sec_a', (SELECT token FROM tokens WHERE tenant = 'sec_b')) $$);
COMMIT;
RESET ROLE;
SELECT check_name, ok, regexp_replace(detail, '/\S*/', '<data directory>/') AS detail FROM relay_security_check() WHERE check_name = 'context_mode';
SELECT set_config('relay.token_key_file', current_setting('data_directory') || '/no_such.key', false) <> '' AS missing_file_set;
SELECT check_name, ok, regexp_replace(detail, '/\S*/', '<data directory>/') AS detail FROM relay_security_check() WHERE check_name = 'context_mode';
RESET relay.token_key_file;
-- relay.token_key (a key in a setting) still works, and relay_security_check fails on it.
SELECT code, message FROM expect_error($$ SET relay.token_key = 'too short' $$);
SET relay.token_key = '0123456789abcdef0123456789abcdef';
SELECT check_name, ok FROM relay_security_check() WHERE check_name IN ('context_mode', 'token_key_private') ORDER BY 1;
RESET relay.token_key;
-- ALTER SYSTEM SET relay.token_key = ... is kept verbatim by pg_stat_statements,
-- which pg_monitor reads: relay_security_check finds it there.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
ALTER SYSTEM SET relay.token_key = '0123456789abcdef0123456789abcdef';
ALTER SYSTEM RESET relay.token_key;
SELECT check_name, ok, detail ~ '^pg_stat_statements keeps [0-9]+ statement' AS says_where FROM relay_security_check() WHERE check_name = 'token_key_not_in_statements';
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
SELECT check_name, ok FROM relay_security_check() WHERE check_name = 'token_key_not_in_statements';
DROP EXTENSION pg_stat_statements;

-- Back to open mode: plain SET works again.
RESET relay.context_mode;
SET ROLE sec_app;
SET app.current_tenant_id = 'sec_b';
SELECT id FROM sec_docs ORDER BY id;
RESET ROLE;
-- A tenant set in open mode is not kept once the server is in signed mode: the
-- session above still holds sec_b in its setting, but relay no longer takes it.
SET relay.context_mode = signed;
SET ROLE sec_app;
SELECT current_setting('app.current_tenant_id') AS setting, relay_current_tenant() AS tenant_relay_uses,
       (SELECT count(*) FROM sec_docs) AS docs_visible;
RESET app.current_tenant_id;
RESET ROLE;
RESET relay.context_mode;
DROP TABLE tokens;
\i include/security_teardown.sql
