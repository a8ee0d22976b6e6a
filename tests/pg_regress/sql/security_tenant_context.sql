-- Security (how these tests run: include/security_setup.sql): the tenant context:
-- relay_set_tenant outside a transaction, and cursors across tenant switches.
\i include/fixtures.sql
\i include/security_setup.sql

-- 10. relay_set_tenant outside a transaction block would set nothing (the statement
-- is the transaction): refused. A WITH HOLD cursor keeps rows read for the previous
-- tenant: switching away is refused until it is closed.
SET ROLE sec_app;
RESET app.current_tenant_id;
SELECT relay_set_tenant('sec_a');
SELECT relay_set_tenant('sec_a', is_local => false);
BEGIN;
DECLARE held CURSOR WITH HOLD FOR SELECT id FROM sec_docs ORDER BY id;
COMMIT;
BEGIN;
SELECT * FROM expect_error($$ SELECT relay_set_tenant('sec_b') $$);
SELECT relay_set_tenant('sec_a');
CLOSE held;
SELECT relay_set_tenant('sec_b');
COMMIT;
SELECT relay_clear_tenant();
-- The same across transactions, as behind a transaction pooler: a WITH HOLD cursor
-- declared under sec_a (SET LOCAL) survives COMMIT; the next transaction starts with no
-- tenant, and cannot set sec_b while the cursor is open (it would read sec_a's rows).
BEGIN;
SELECT relay_set_tenant('sec_a');
DECLARE held2 CURSOR WITH HOLD FOR SELECT id FROM sec_docs ORDER BY id;
COMMIT;
BEGIN;
SELECT * FROM expect_error($$ SELECT relay_set_tenant('sec_b') $$);
ROLLBACK;
BEGIN;
SELECT relay_set_tenant('sec_a');
FETCH 1 FROM held2;
COMMIT;
CLOSE held2;
-- Any cursor: one declared under sec_b, then a switch to sec_a in the same transaction.
BEGIN;
SELECT relay_set_tenant('sec_b');
DECLARE plain CURSOR FOR SELECT id FROM sec_docs ORDER BY id;
SELECT * FROM expect_error($$ SELECT relay_set_tenant('sec_a') $$);
CLOSE plain;
SELECT relay_set_tenant('sec_a');
COMMIT;
RESET ROLE;

\i include/security_teardown.sql
