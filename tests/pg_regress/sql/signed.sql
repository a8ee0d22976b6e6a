-- Signed tenant context (opt-in). In relay.context_mode = signed the tenant of a role
-- subject to row level security can only be set with a token the trusted tier
-- minted: <expiry>.<hex HMAC-SHA256(relay.token_key, tenant || '.' || expiry)>.
-- (A DBA sets both in postgresql.conf or with ALTER SYSTEM; a superuser may also SET
-- them in a session, as here.) Uses sec_docs, sec_app and tenants sec_a, sec_b from
-- the security test.
CREATE EXTENSION IF NOT EXISTS pgcrypto;
SET relay.context_mode = signed;
SET relay.token_key = '0123456789abcdef0123456789abcdef';
-- The key is never shown, not even to a superuser.
SHOW relay.token_key;

-- A token minted in SQL by a privileged role...
SELECT relay_tenant_token('sec_a', '1 hour') ~ '^[0-9]+\.[0-9a-f]{64}$' AS token_shape;
-- ...is what any HMAC-SHA256 implementation computes (here pgcrypto) for its expiry,
-- so the trusted tier can mint tokens in its own language (a pgcrypto-made token is
-- used below).
SELECT split_part(t, '.', 2) = encode(hmac('sec_a.' || split_part(t, '.', 1), '0123456789abcdef0123456789abcdef', 'sha256'), 'hex') AS same_as_pgcrypto,
       split_part(t, '.', 1)::bigint - extract(epoch FROM now())::bigint BETWEEN 3590 AND 3610 AS valid_for_an_hour
  FROM relay_tenant_token('sec_a', '1 hour') t;
CREATE TABLE tokens AS
SELECT 'sec_a' AS tenant, '4102444800.' || encode(hmac('sec_a.4102444800', '0123456789abcdef0123456789abcdef', 'sha256'), 'hex') AS token
UNION ALL SELECT 'sec_b', relay_tenant_token('sec_b', '1 hour')
UNION ALL SELECT 'unknown', relay_tenant_token('no-such-tenant', '1 hour')
UNION ALL SELECT 'expired', '1000.' || encode(hmac('sec_a.1000', '0123456789abcdef0123456789abcdef', 'sha256'), 'hex');
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
SELECT token AS sec_a_token FROM tokens WHERE tenant = 'sec_a' \gset
SET search_path = sec_evil, pg_catalog, public;
BEGIN;
SELECT relay_set_tenant('sec_a', :'sec_a_token');
COMMIT;
RESET search_path;
SELECT count(*) AS evil_calls FROM sec_evil.calls;
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
SET relay.token_key = '';
SET ROLE sec_app;
BEGIN;
SELECT code, message FROM expect_error($$ SELECT relay_set_tenant('sec_a', (SELECT token FROM tokens WHERE tenant = 'sec_a')) $$);
COMMIT;
RESET ROLE;
SELECT "check", ok FROM relay_security_check() WHERE "check" IN ('context_mode', 'preloaded') ORDER BY 1;
SELECT code, message FROM expect_error($$ SET relay.token_key = 'too short' $$);

-- Back to open mode: plain SET works again.
RESET relay.context_mode;
RESET relay.token_key;
SET ROLE sec_app;
SET app.current_tenant_id = 'sec_b';
SELECT id FROM sec_docs ORDER BY id;
RESET app.current_tenant_id;
RESET ROLE;
DROP TABLE tokens;
