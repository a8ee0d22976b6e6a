-- Mixed case, spaces, quotes, keywords and non-public schemas: every name reaches
-- SQL quoted. Generated names are cut to 63 bytes.
\i include/fixtures.sql
CREATE SCHEMA "Tenant Data";
CREATE TABLE "Tenant Data"."My Skills" (
  "Id" int PRIMARY KEY,
  "Slug" text NOT NULL,
  "order" int,
  CONSTRAINT "Slug ""unique""" UNIQUE ("Slug")
);
CREATE UNIQUE INDEX "lower slug" ON "Tenant Data"."My Skills" (lower("Slug") text_pattern_ops DESC)
  INCLUDE ("order") WITH (fillfactor = 70) WHERE ("order" > 0);
INSERT INTO "Tenant Data"."My Skills" VALUES (1, 'A', 1), (2, 'a-b', 2);

SELECT step, lock, statement FROM relay_tenancy_plan('"Tenant Data"."My Skills"') ORDER BY step;
SELECT relay_enable_tenancy('"Tenant Data"."My Skills"');
\d "Tenant Data"."My Skills"

-- Per tenant now: another tenant may reuse 'A'.
SET app.current_tenant_id = 'acme';
INSERT INTO "Tenant Data"."My Skills" ("Id", "Slug", "order") VALUES (3, 'A', 1);
SELECT * FROM expect_error($$ INSERT INTO "Tenant Data"."My Skills" ("Id", "Slug", "order") VALUES (4, 'A', 2) $$);
RESET app.current_tenant_id;

-- A name of 63 bytes: generated names are clipped to fit, never truncated silently
-- by PostgreSQL into a collision.
CREATE TABLE "a_table_name_that_is_exactly_sixty_three_bytes_long_abcdefghijk" (id int PRIMARY KEY);
SELECT relay_enable_tenancy('"a_table_name_that_is_exactly_sixty_three_bytes_long_abcdefghijk"');
SELECT conname, octet_length(conname) FROM pg_constraint
 WHERE conrelid = 'a_table_name_that_is_exactly_sixty_three_bytes_long_abcdefghijk'::regclass AND contype = 'f';
SELECT indexrelid::regclass AS index_name, octet_length(indexrelid::regclass::text)
  FROM pg_index WHERE indrelid = 'a_table_name_that_is_exactly_sixty_three_bytes_long_abcdefghijk'::regclass
 ORDER BY 1;

-- A table literally named with a quote.
CREATE TABLE "we""ird" (id int PRIMARY KEY);
SELECT relay_enable_tenancy('"we""ird"');
