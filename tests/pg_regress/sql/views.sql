-- Views over tenant tables. A view reads its tables with its owner's rights unless it
-- is security_invoker: owned by a superuser or a BYPASSRLS role it shows every
-- tenant's rows. Enabling a table reports every such view (and every materialized
-- view, which cannot have row level security); views => 'invoker' fixes the views.
\i include/fixtures.sql
INSERT INTO relay.tenants (id, name, slug) VALUES ('vw_a', 'View A', 'vw-a'), ('vw_b', 'View B', 'vw-b');
CREATE ROLE vw_owner;                       -- an ordinary role: subject to row level security
CREATE ROLE vw_app;
CREATE TABLE vw_orders (id int PRIMARY KEY, amount numeric NOT NULL, tenant_id text);
INSERT INTO vw_orders VALUES (1, 10, 'vw_a'), (2, 20, 'vw_b');
CREATE VIEW vw_all_orders AS SELECT id, amount FROM vw_orders;                        -- superuser's
CREATE VIEW vw_invoker_orders WITH (security_invoker = on) AS SELECT id, amount FROM vw_orders;
CREATE VIEW vw_owned_orders AS SELECT id, amount FROM vw_orders;
ALTER VIEW vw_owned_orders OWNER TO vw_owner;
GRANT SELECT ON vw_orders TO vw_owner;
CREATE MATERIALIZED VIEW vw_order_totals AS SELECT count(*) AS orders, sum(amount) AS total FROM vw_orders;

-- The dry run and the call report the superuser's view and the materialized view.
SELECT step, action FROM relay_tenancy_plan('vw_orders') WHERE step = 0;
SELECT line FROM relay_enable_tenancy('vw_orders') line WHERE line LIKE 'warning:%';
GRANT SELECT ON vw_orders, vw_all_orders, vw_invoker_orders, vw_owned_orders TO vw_app;
-- As the application with tenant vw_a: the superuser's view shows both tenants' orders.
SET ROLE vw_app;
SET app.current_tenant_id = 'vw_a';
SELECT 'all' AS view, count(*) FROM vw_all_orders
UNION ALL SELECT 'invoker', count(*) FROM vw_invoker_orders
UNION ALL SELECT 'owned by an ordinary role', count(*) FROM vw_owned_orders;
RESET app.current_tenant_id;
RESET ROLE;

-- views => 'invoker' sets security_invoker = on on the views that bypass row level
-- security (readers then need SELECT on the table itself, as for any security_invoker
-- view). The materialized view is still reported.
SELECT * FROM relay_enable_tenancy('vw_orders', views => 'invoker');
SELECT relname, reloptions FROM pg_class WHERE relname LIKE 'vw\_%orders' AND relkind = 'v' ORDER BY 1;
SET ROLE vw_app;
SET app.current_tenant_id = 'vw_a';
SELECT count(*) AS all_orders_now FROM vw_all_orders;
RESET app.current_tenant_id;
RESET ROLE;
SELECT code, message FROM expect_error($$ SELECT relay_enable_tenancy('vw_orders', views => 'fix') $$);

-- Lookups before the tenant is known (API keys, invite tokens, password resets): the
-- key stays globally unique (global_unique), and a small SECURITY DEFINER function,
-- owned by a role that sees every tenant, answers "which tenant owns this key" and
-- returns nothing else. The application calls it, then sets that tenant.
CREATE TABLE vw_api_keys (id int PRIMARY KEY, key_hash text NOT NULL UNIQUE, label text, tenant_id text);
INSERT INTO vw_api_keys VALUES (1, 'hash-a', 'a key', 'vw_a'), (2, 'hash-b', 'b key', 'vw_b');
SELECT count(*) AS steps FROM relay_enable_tenancy('vw_api_keys', global_unique => ARRAY['key_hash']);
CREATE FUNCTION vw_tenant_for_key(key_hash text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT k.tenant_id FROM public.vw_api_keys k WHERE k.key_hash OPERATOR(pg_catalog.=) $1 $$;
REVOKE EXECUTE ON FUNCTION vw_tenant_for_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vw_tenant_for_key(text) TO vw_app;
GRANT SELECT ON vw_api_keys TO vw_app;
SET ROLE vw_app;
-- no tenant set: the table shows nothing, the function names the key's tenant only
SELECT count(*) AS keys_visible FROM vw_api_keys;
SELECT vw_tenant_for_key('hash-b') AS tenant, vw_tenant_for_key('no-such-key') AS unknown;
BEGIN;
SELECT relay_set_tenant(vw_tenant_for_key('hash-b'));
SELECT id, label FROM vw_api_keys ORDER BY id;
COMMIT;
RESET ROLE;
