-- Classic row level security attacks, tried by a hostile application role that has
-- only SELECT, INSERT, UPDATE and DELETE on tenant-enabled tables, in one file per
-- class of attack (attacks_*.sql, blocks numbered as one list across them). The
-- session's tenant is t_a; every attack tries to read, change or learn about t_b's
-- rows. Each block's comment says what must happen; the output shows what does. Where
-- t_a can still learn something about t_b, the comment says so: a documented limit is
-- named as such; a leak of t_b's values that is not documented is marked BREACH; a
-- leak of row counts or planner statistics that PostgreSQL gives every role is marked
-- SIDE CHANNEL. Every object is named atk_*, made here (include/attacks_setup.sql)
-- and dropped at the end of each attacks_* file (include/attacks_teardown.sql).

-- Set-up, as the superuser: a table owner that is not a superuser (so FORCE ROW
-- LEVEL SECURITY applies to it), an application role, two tenants, a table with a
-- global primary key and a per-tenant unique key, a child with a foreign key, and a
-- table with an ordinary (non-unique) index on a column that is not tenant_id.
CREATE ROLE atk_owner NOLOGIN;
CREATE ROLE atk_app NOLOGIN;
INSERT INTO relay.tenants (id, name, slug) VALUES ('t_a', 'Tenant A', 'atk-t-a'), ('t_b', 'Tenant B', 'atk-t-b');
CREATE TABLE atk_docs (id text PRIMARY KEY, slug text UNIQUE, title text, secret text);
CREATE TABLE atk_notes (id text PRIMARY KEY, doc_id text REFERENCES atk_docs (id), body text);
CREATE TABLE atk_contacts (id text PRIMARY KEY, email text);
CREATE INDEX atk_contacts_email_idx ON atk_contacts (email);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('atk_docs');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('atk_notes');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('atk_contacts');
-- t_b's rows are written first, so they come first in the heap: an attack that
-- evaluated anything before the policy would meet them first.
SET app.current_tenant_id = 't_b';
INSERT INTO atk_docs (id, slug, title, secret) VALUES
  ('b1', 'shared', 'B one', 'b-secret-1'), ('b2', 'b-only', 'B two', 'b-secret-2');
INSERT INTO atk_notes (id, doc_id, body) VALUES ('nb1', 'b1', 'b note');
INSERT INTO atk_contacts (id, email)
  SELECT 'cb' || g, 'b' || lpad(g::text, 2, '0') || '@b.example' FROM generate_series(1, 20) g
  UNION ALL
  SELECT 'cb-ceo' || g, 'ceo@b.example' FROM generate_series(1, 5) g;
SET app.current_tenant_id = 't_a';
INSERT INTO atk_docs (id, slug, title, secret) VALUES
  ('a1', 'shared', 'A one', 'a-secret-1'), ('a2', 'a-only', 'A two', 'a-secret-2');
INSERT INTO atk_notes (id, doc_id, body) VALUES ('na1', 'a1', 'a note');
INSERT INTO atk_contacts (id, email)
  SELECT 'ca' || g, 'a' || lpad(g::text, 2, '0') || '@a.example' FROM generate_series(1, 20) g;
RESET app.current_tenant_id;
ALTER TABLE atk_docs OWNER TO atk_owner;
ALTER TABLE atk_notes OWNER TO atk_owner;
ALTER TABLE atk_contacts OWNER TO atk_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON atk_docs, atk_notes, atk_contacts TO atk_app;
-- What is in the tables (as the superuser, who bypasses row level security).
SELECT tenant_id, id, slug, title, secret FROM atk_docs ORDER BY id;
SELECT tenant_id, id, doc_id, body FROM atk_notes ORDER BY id;
SELECT tenant_id, count(*), min(email), max(email) FROM atk_contacts GROUP BY tenant_id ORDER BY tenant_id;

-- A snapshot of t_b's rows, to show at the end that no attack changed them.
CREATE TABLE atk_b_before AS
  SELECT 'atk_docs' AS tbl, id, row_to_json(d)::text AS r FROM atk_docs d WHERE tenant_id = 't_b'
  UNION ALL
  SELECT 'atk_notes', id, row_to_json(n)::text FROM atk_notes n WHERE tenant_id = 't_b'
  UNION ALL
  SELECT 'atk_contacts', id, row_to_json(c)::text FROM atk_contacts c WHERE tenant_id = 't_b';

-- From here on: the application role, as tenant t_a.
SET ROLE atk_app;
SET app.current_tenant_id = 't_a';

-- Baseline: t_a sees its own two documents and one note, nothing of t_b's.
SELECT id, slug, title, secret, tenant_id FROM atk_docs ORDER BY id;
SELECT id, doc_id, body, tenant_id FROM atk_notes ORDER BY id;
SELECT tenant_id, count(*) FROM atk_contacts GROUP BY tenant_id ORDER BY tenant_id;
