-- A table that already has row level security with the application's own permissive
-- policy: relay's tenant rule must AND with it, never widen it, so tenant_isolation
-- is RESTRICTIVE there. (A RESTRICTIVE policy alone would hide every row: the
-- reference's final policies did exactly that.)
\i include/fixtures.sql
\i include/reference_app.sql
CREATE TABLE documents (id int PRIMARY KEY, owner_name text NOT NULL, body text);
INSERT INTO documents VALUES (1, 'alice', 'a1'), (2, 'bob', 'b1');
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON documents USING (owner_name = current_setting('app.user_name', true));
GRANT SELECT, INSERT ON documents TO relay_app;

SELECT relay_enable_tenancy('documents');
SELECT polname, polpermissive, polcmd FROM pg_policy WHERE polrelid = 'documents'::regclass ORDER BY polname;

SET ROLE relay_app;
-- alice's rows match the application's rule, but with no tenant set the tenant rule hides them
SET app.user_name = 'alice';
SELECT * FROM documents ORDER BY id;
-- the application's rule AND the tenant rule
SET app.current_tenant_id = 'default-tenant-000-0000-000000000000';
SELECT * FROM documents ORDER BY id;
SET app.current_tenant_id = 'acme';
SELECT * FROM documents ORDER BY id;
INSERT INTO documents (id, owner_name, body) VALUES (3, 'alice', 'acme doc');
SELECT * FROM documents ORDER BY id;
RESET app.user_name;
RESET app.current_tenant_id;
RESET ROLE;

-- Without a permissive policy of its own, tenant_access (PERMISSIVE, the same rule)
-- is what grants access; tenant_isolation is RESTRICTIVE on every table.
SELECT polname, polpermissive FROM pg_policy WHERE polrelid = 'skills'::regclass ORDER BY polname;
