-- Security: every attack in the security_* files was found by an adversarial review of
-- an earlier version, tried as a hostile application role (sec_app) and a hostile
-- non-superuser table owner (sec_owner), with two tenants (sec_a, sec_b, made by
-- include/fixtures.sql), one file per class of attack (blocks numbered as one list
-- across them). Each block says what must happen; the output shows it does.
-- This set-up makes the two roles, sec_app's schema and sec_owner's table sec_docs;
-- include/security_teardown.sql drops them at the end of each file.

CREATE ROLE sec_owner;
CREATE ROLE sec_app;
CREATE SCHEMA sec_evil AUTHORIZATION sec_app;
GRANT CREATE ON SCHEMA public TO sec_owner;
GRANT REFERENCES ON relay.tenants TO sec_owner;
SET ROLE sec_owner;
CREATE TABLE sec_docs (id text PRIMARY KEY, title text NOT NULL, secret text);
SELECT count(*) AS steps FROM relay_enable_tenancy('sec_docs');
GRANT SELECT, INSERT, UPDATE, DELETE ON sec_docs TO sec_app;
RESET ROLE;
INSERT INTO sec_docs (id, title, secret, tenant_id) VALUES
  ('a1', 'alpha', 'a-secret', 'sec_a'), ('b1', 'bravo', 'b-secret-1', 'sec_b'), ('b2', 'mike', 'b-secret-2', 'sec_b');
