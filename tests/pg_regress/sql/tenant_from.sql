-- tenant_from (issue 22, item 2): a table without a tenant column that belongs to a
-- tenant through a foreign key (a join table, attachments, versions) takes each row's
-- tenant from the parent row. relay adds the column (the parent's name and type),
-- fills it from the parents, and makes the key composite, so a row can only ever
-- point at its own tenant's parent.
\i include/fixtures.sql
\set VERBOSITY verbose
CREATE SCHEMA tf;
CREATE TABLE tf.projects (id bigint PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL);
CREATE TABLE tf.tags (id bigint PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL);
CREATE TABLE tf.project_tags (
  project_id bigint NOT NULL REFERENCES tf.projects (id) ON DELETE CASCADE,
  tag_id     bigint NOT NULL REFERENCES tf.tags (id),
  PRIMARY KEY (project_id, tag_id));
CREATE TABLE tf.attachments (id bigint PRIMARY KEY, project_id bigint REFERENCES tf.projects (id), path text NOT NULL);
CREATE TABLE tf.versions (id bigint PRIMARY KEY, attachment_id bigint NOT NULL REFERENCES tf.attachments (id), n int NOT NULL);
INSERT INTO tf.projects VALUES (1, 'acme', 'rocket'), (2, 'globex', 'dome');
INSERT INTO tf.tags VALUES (10, 'acme', 'red'), (20, 'globex', 'blue');
INSERT INTO tf.project_tags VALUES (1, 10), (2, 20);
INSERT INTO tf.attachments VALUES (100, 1, 'rocket.pdf'), (200, 2, 'dome.pdf'), (300, NULL, 'loose.pdf');
INSERT INTO tf.versions VALUES (1000, 100, 1), (2000, 200, 1), (2001, 200, 2);
-- What the schema looked like, to compare after the undo.
CREATE TEMP TABLE tf_before AS
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'tf'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), true
  FROM pg_constraint WHERE connamespace = 'tf'::regnamespace;

-- 1. Refused before anything changes: a key the table does not have (42704, listing
-- its keys), a parent that is not tenant-enabled (55000).
SELECT * FROM expect_error($$SELECT * FROM relay_enable_tenancy('tf.project_tags', tenant_from => 'nope')$$);
SELECT * FROM expect_error($$SELECT * FROM relay_enable_tenancy('tf.project_tags', tenant_from => 'project_tags_project_id_fkey')$$);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('tf.projects');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('tf.tags');
-- A tenant_column other than the parent's (22023); a table that has it (42701).
SELECT * FROM expect_error($$SELECT * FROM relay_enable_tenancy('tf.project_tags', tenant_from => 'project_tags_project_id_fkey', tenant_column => 'org_id')$$);
SELECT * FROM expect_error($$SELECT * FROM relay_enable_tenancy('tf.projects', tenant_from => 'projects_pkey')$$);

-- 2. The join table. The dry run shows the column added, filled from projects, and
-- both keys made composite (tags is tenant-enabled too).
SELECT step, lock, action FROM relay_tenancy_plan('tf.project_tags', tenant_from => 'project_tags_project_id_fkey');
SELECT * FROM relay_enable_tenancy('tf.project_tags', tenant_from => 'project_tags_project_id_fkey');
SELECT * FROM tf.project_tags ORDER BY project_id;
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'tf.project_tags'::regclass AND contype IN ('p', 'f') ORDER BY conname;
-- Isolated like any tenant table; a row cannot point at another tenant's project.
GRANT USAGE ON SCHEMA tf TO relay_app;
GRANT SELECT ON ALL TABLES IN SCHEMA tf TO relay_app;
BEGIN;
SET LOCAL ROLE relay_app;
SELECT relay_set_tenant('acme');
SELECT * FROM tf.project_tags;
ROLLBACK;
SELECT * FROM expect_error($$INSERT INTO tf.project_tags VALUES (2, 10, 'acme')$$);

-- 3. A nullable key: rows with no parent belong to the default tenant, like the
-- rows of a table relay adds the column to.
SELECT * FROM relay_enable_tenancy('tf.attachments', tenant_from => 'attachments_project_id_fkey')
 WHERE relay_enable_tenancy ~ '(added column|filled|backfilled|foreign key)';
SELECT id, project_id, tenant_id FROM tf.attachments ORDER BY id;

-- 4. Versions take the tenant of their attachment (itself derived), online: the
-- column and isolation first, the fill from the parents in its own run, NOT NULL
-- through a validated check.
SELECT step, lock, action FROM relay_tenancy_plan('tf.versions', tenant_from => 'versions_attachment_id_fkey', online => true);
SELECT statement FROM relay_tenancy_plan('tf.versions', tenant_from => 'versions_attachment_id_fkey', online => true)
 ORDER BY step \gexec
SELECT id, attachment_id, tenant_id FROM tf.versions ORDER BY id;
SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'tf.versions'::regclass AND attname = 'tenant_id';
SELECT table_name, problems FROM relay.relay_tenancy_status WHERE table_name::text LIKE 'tf.%' ORDER BY 1;

-- 5. Undo, parents first (a parent's undo restores the keys into it): the columns
-- relay added are dropped, and the schema is exactly what it was.
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('tf.projects');
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('tf.tags');
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('tf.attachments', drop_column => true);
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('tf.project_tags', drop_column => true);
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('tf.versions', drop_column => true);
(SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull
   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  WHERE c.relnamespace = 'tf'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
 UNION ALL
 SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), true
   FROM pg_constraint WHERE connamespace = 'tf'::regnamespace)
EXCEPT SELECT * FROM tf_before;
SELECT * FROM tf_before EXCEPT
(SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull
   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  WHERE c.relnamespace = 'tf'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
 UNION ALL
 SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), true
   FROM pg_constraint WHERE connamespace = 'tf'::regnamespace);
DROP SCHEMA tf CASCADE;

-- 6. The schema call takes tenant_from => ARRAY['table.fk', ...]: each such table
-- comes after its parent (here comments sorts before posts), and the tables without
-- the column are not refused for lacking it.
CREATE SCHEMA tfs;
CREATE TABLE tfs.posts (id bigint PRIMARY KEY, tenant_id text NOT NULL, body text);
CREATE TABLE tfs.comments (id bigint PRIMARY KEY, post_id bigint NOT NULL REFERENCES tfs.posts (id), body text);
INSERT INTO tfs.posts VALUES (1, 'acme', 'hello'), (2, 'globex', 'hi');
INSERT INTO tfs.comments VALUES (10, 1, 'first'), (20, 2, 'second');
SELECT table_name, step, action FROM relay_tenancy_schema_plan('tfs', tenant_column => 'tenant_id',
         tenant_from => ARRAY['comments.comments_post_id_fkey'])
 WHERE step <= 2 ORDER BY table_name = 'tfs.comments', step;
SELECT * FROM expect_error($$SELECT * FROM relay_enable_tenancy_schema('tfs', tenant_from => ARRAY['nope.comments_post_id_fkey'])$$);
SELECT * FROM expect_error($$SELECT * FROM relay_enable_tenancy_schema('tfs', tenant_column => 'tenant_id')$$);
SELECT table_name, count(*) > 0 AS enabled
  FROM relay_enable_tenancy_schema('tfs', tenant_column => 'tenant_id', tenant_from => ARRAY['comments.comments_post_id_fkey'])
 GROUP BY 1 ORDER BY 1;
SELECT id, post_id, tenant_id FROM tfs.comments ORDER BY id;
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('tfs.posts');
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('tfs.comments', drop_column => true);
DROP SCHEMA tfs CASCADE;
