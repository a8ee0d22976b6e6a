-- Security (how these tests run: include/security_setup.sql): keys: exclusion
-- constraints within a tenant, and global keys kept on re-runs.
\i include/fixtures.sql
\i include/security_setup.sql

-- 7. Exclusion constraints exclude within a tenant: one tenant's booking neither
-- blocks nor reveals another's. Without btree_gist there is no gist operator class
-- for tenant_id, and relay says how to get one.
CREATE TABLE sec_bookings (id int PRIMARY KEY, room int NOT NULL, during tsrange NOT NULL,
                           EXCLUDE USING gist (during WITH &&));
\x on
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('sec_bookings') $$);
\x off
CREATE EXTENSION btree_gist;
SELECT step, statement FROM relay_tenancy_plan('sec_bookings') WHERE statement LIKE '%EXCLUDE%';
SELECT count(*) AS steps FROM relay_enable_tenancy('sec_bookings');
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'sec_bookings'::regclass AND contype = 'x';
GRANT SELECT, INSERT ON sec_bookings TO sec_app;
SET ROLE sec_app;
SET app.current_tenant_id = 'sec_a';
INSERT INTO sec_bookings (id, room, during) VALUES (1, 7, '[2026-01-01 10:00, 2026-01-01 12:00)');
SET app.current_tenant_id = 'sec_b';
-- the same time range in another tenant: accepted, so nothing is learned about sec_a's bookings
INSERT INTO sec_bookings (id, room, during) VALUES (2, 7, '[2026-01-01 10:00, 2026-01-01 12:00)');
-- within a tenant the constraint still holds
SELECT code, message FROM expect_error($$ INSERT INTO sec_bookings (id, room, during) VALUES (3, 9, '[2026-01-01 11:00, 2026-01-01 13:00)') $$);
RESET ROLE;

-- 9. Re-runs keep the keys the registry records as global: a repair call without
-- global_unique never loosens users' email to per-tenant; passing another list is
-- reported.
CREATE TABLE sec_users (id int PRIMARY KEY, email text UNIQUE, handle text UNIQUE);
SELECT count(*) AS steps FROM relay_enable_tenancy('sec_users', global_unique => ARRAY['email']);
SET relay.allow_unsafe_ddl = on;  -- (a superuser who means it: warned, not refused)
ALTER TABLE sec_users DISABLE ROW LEVEL SECURITY;
RESET relay.allow_unsafe_ddl;
SELECT * FROM relay_enable_tenancy('sec_users');
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'sec_users'::regclass AND contype = 'u' ORDER BY 1;
SELECT global_unique FROM relay.relay_tables WHERE relid = 'sec_users'::regclass;
SELECT * FROM relay_tenancy_plan('sec_users', global_unique => '{}') ORDER BY step;

\i include/security_teardown.sql
