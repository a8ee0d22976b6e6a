-- relay_tenancy's catalog query (src/catalog.rs, TABLE_STATE_SQL): one table's state
-- as one JSON document shaped like catalog::TableState. $1 is the table's oid, $2 the
-- extension schema, $3 the name of the tenant column. It reads the catalogs only.
-- Kept as a file (included into the library at build time), not installed.
WITH t AS (
  SELECT c.oid, c.relname, c.relkind, c.relispartition, c.relowner, c.relnamespace, c.relpersistence,
         c.relrowsecurity, c.relforcerowsecurity, n.nspname,
         (SELECT a.attnum FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = c.oid AND a.attname OPERATOR(pg_catalog.=) $3 AND NOT a.attisdropped) AS tenant_attnum,
         COALESCE((SELECT a.atttypid FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attname OPERATOR(pg_catalog.=) $3 AND NOT a.attisdropped),
                  'pg_catalog.text'::pg_catalog.regtype) AS tenant_type
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = $1
)
SELECT pg_catalog.json_build_object(
  'oid', t.oid::pg_catalog.int8,
  'schema', t.nspname,
  'name', t.relname,
  'relkind', t.relkind::pg_catalog.text,
  'is_partition', t.relispartition,
  'parent_oid', (SELECT i.inhparent::pg_catalog.int8 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = t.oid LIMIT 1),
  'parent', (SELECT pg_catalog.format('%I.%I', pn.nspname, pc.relname)
               FROM pg_catalog.pg_inherits i
               JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
               JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
              WHERE i.inhrelid = t.oid LIMIT 1),
  'is_system', t.nspname IN ('pg_catalog', 'information_schema')
               OR t.nspname LIKE 'pg\_toast%' OR t.oid < 16384,
  'extension', (SELECT e.extname FROM pg_catalog.pg_depend d
                  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
                 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = t.oid
                   AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                   AND d.deptype = 'e' LIMIT 1),
  'is_owner', pg_catalog.pg_has_role(t.relowner, 'USAGE'),
  'owner', pg_catalog.pg_get_userbyid(t.relowner)::pg_catalog.text,
  'owner_oid', t.relowner::pg_catalog.int8,
  'persistence', t.relpersistence::pg_catalog.text,
  'rls_enabled', t.relrowsecurity,
  'rls_forced', t.relforcerowsecurity,
  'tenant_column', (
    SELECT pg_catalog.json_build_object(
      'type_name', pg_catalog.format_type(a.atttypid, a.atttypmod),
      'is_text', a.atttypid = 'pg_catalog.text'::pg_catalog.regtype,
      'type_key', CASE a.atttypid WHEN 'pg_catalog.text'::pg_catalog.regtype THEN 'text'
                                  WHEN 'pg_catalog.uuid'::pg_catalog.regtype THEN 'uuid'
                                  WHEN 'pg_catalog.int8'::pg_catalog.regtype THEN 'bigint'
                                  WHEN 'pg_catalog.int4'::pg_catalog.regtype THEN 'integer' ELSE 'other' END,
      'not_null', a.attnotnull,
      'default_expr', pg_catalog.pg_get_expr(ad.adbin, ad.adrelid),
      'default_is_ours', COALESCE(EXISTS (
         SELECT 1 FROM pg_catalog.pg_depend d
          WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
            AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
            AND d.refobjid OPERATOR(pg_catalog.=) ANY (ARRAY[
                  pg_catalog.to_regprocedure(pg_catalog.quote_ident($2) || '.relay_insert_tenant(pg_catalog.regclass)'),
                  pg_catalog.to_regprocedure(pg_catalog.quote_ident($2) || '.relay_insert_tenant_uuid(pg_catalog.regclass)'),
                  pg_catalog.to_regprocedure(pg_catalog.quote_ident($2) || '.relay_insert_tenant_bigint(pg_catalog.regclass)'),
                  -- the by-name forms relay_distribute writes for Citus
                  pg_catalog.to_regprocedure(pg_catalog.quote_ident($2) || '.relay_insert_tenant(pg_catalog.text)'),
                  pg_catalog.to_regprocedure(pg_catalog.quote_ident($2) || '.relay_insert_tenant_uuid(pg_catalog.text)'),
                  pg_catalog.to_regprocedure(pg_catalog.quote_ident($2) || '.relay_insert_tenant_bigint(pg_catalog.text)')]::pg_catalog.oid[]))
         -- and it names this table: a CREATE TABLE ... (LIKE t INCLUDING DEFAULTS) copy
         -- carries t's default, which names t (the copy gets its own)
         AND NOT EXISTS (
         SELECT 1 FROM pg_catalog.pg_depend o
          WHERE o.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND o.objid = ad.oid
            AND o.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
            AND o.refobjid OPERATOR(pg_catalog.<>) ad.adrelid
            -- (a partition or inheritance child carries its parent's, as PostgreSQL copies it)
            AND o.refobjid OPERATOR(pg_catalog.<>) ALL (ARRAY(
                  SELECT x.relid::pg_catalog.oid FROM pg_catalog.pg_partition_ancestors(ad.adrelid) x
                  UNION ALL
                  SELECT h.inhparent FROM pg_catalog.pg_inherits h WHERE h.inhrelid OPERATOR(pg_catalog.=) ad.adrelid))), false),
      'name', a.attname)
      FROM pg_catalog.pg_attribute a
      LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE a.attrelid = t.oid AND a.attnum = t.tenant_attnum),
  'not_valid', COALESCE((
    SELECT pg_catalog.json_agg(con.conname ORDER BY con.conname) FROM pg_catalog.pg_constraint con
     WHERE con.conrelid = t.oid AND NOT con.convalidated), '[]'),
  'tenant_fk', (
    SELECT con.conname FROM pg_catalog.pg_constraint con
     WHERE con.conrelid = t.oid AND con.contype = 'f'
       AND con.conkey = ARRAY[t.tenant_attnum]
       AND con.confrelid = pg_catalog.to_regclass(pg_catalog.quote_ident($2) || '.tenants')
     ORDER BY con.conname LIMIT 1),
  'indexes', COALESCE((
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', ic.relname,
      'is_unique', i.indisunique,
      'is_primary', i.indisprimary,
      'is_valid', i.indisvalid,
      -- a partition of a partitioned table's index: changed through the parent's
      'inherited', EXISTS (SELECT 1 FROM pg_catalog.pg_inherits x WHERE x.inhrelid OPERATOR(pg_catalog.=) i.indexrelid),
      'key_columns', (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord)
                        FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, ord)
                        LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                       WHERE k.ord <= i.indnkeyatts),
      -- each key as pg_get_indexdef prints it alone: a column's name, or an expression
      'key_exprs', (SELECT pg_catalog.json_agg(pg_catalog.pg_get_indexdef(i.indexrelid, k.ord::pg_catalog.int4, true) ORDER BY k.ord)
                      FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, ord)
                     WHERE k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts),
      -- int2vector keeps its lower bound of 0, so go through unnest, not a slice
      'has_tenant_key', EXISTS (SELECT 1 FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, ord)
                                 WHERE k.ord <= i.indnkeyatts AND k.attnum = t.tenant_attnum),
      'leads_with_tenant', COALESCE(i.indkey[0] = t.tenant_attnum, false),
      'predicate', pg_catalog.pg_get_expr(i.indpred, i.indrelid),
      'am', am.amname,
      'definition', pg_catalog.pg_get_indexdef(i.indexrelid),
      -- (pg_get_indexdef prints ON ONLY for every index of a partitioned table)
      'definition_prefix', pg_catalog.format('CREATE %sINDEX %s ON %s%s.%s USING %s (',
                             CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END,
                             pg_catalog.quote_ident(ic.relname),
                             CASE WHEN ic.relkind OPERATOR(pg_catalog.=) 'I' THEN 'ONLY ' ELSE '' END,
                             pg_catalog.quote_ident(t.nspname),
                             pg_catalog.quote_ident(t.relname), pg_catalog.quote_ident(am.amname)),
      'tablespace', (SELECT ts.spcname FROM pg_catalog.pg_tablespace ts WHERE ts.oid = ic.reltablespace),
      -- a partitioned table's index: the partitions' indexes attached to it, by name
      'attached', COALESCE((SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                              'table', pg_catalog.format('%I.%I', pn.nspname, pc.relname), 'name', ci.relname)
                              ORDER BY ci.relname)
                              FROM pg_catalog.pg_inherits h
                              JOIN pg_catalog.pg_class ci ON ci.oid OPERATOR(pg_catalog.=) h.inhrelid
                              JOIN pg_catalog.pg_index pi ON pi.indexrelid OPERATOR(pg_catalog.=) ci.oid
                              JOIN pg_catalog.pg_class pc ON pc.oid OPERATOR(pg_catalog.=) pi.indrelid
                              JOIN pg_catalog.pg_namespace pn ON pn.oid OPERATOR(pg_catalog.=) pc.relnamespace
                             WHERE h.inhparent OPERATOR(pg_catalog.=) i.indexrelid), '[]'),
      'constraint', (SELECT pg_catalog.json_build_object(
                        'name', con.conname, 'contype', con.contype::pg_catalog.text,
                        'deferrable', con.condeferrable, 'deferred', con.condeferred,
                        'definition', pg_catalog.pg_get_constraintdef(con.oid))
                       FROM pg_catalog.pg_constraint con
                      WHERE con.conrelid = t.oid AND con.conindid = i.indexrelid
                        AND con.contype IN ('p', 'u', 'x') LIMIT 1),
      'dependent_fks', COALESCE((
         SELECT pg_catalog.json_agg(pg_catalog.format('%I on %s', f.conname, f.conrelid::pg_catalog.regclass)
                                    ORDER BY f.conrelid::pg_catalog.regclass::pg_catalog.text, f.conname)
           FROM pg_catalog.pg_depend d
           JOIN pg_catalog.pg_constraint f ON f.oid OPERATOR(pg_catalog.=) d.objid
          -- a foreign key depends on the index it references: found through
          -- pg_depend's index, not by scanning pg_constraint
          WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
            AND d.refobjid OPERATOR(pg_catalog.=) i.indexrelid
            AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass
            AND f.contype OPERATOR(pg_catalog.=) 'f' AND f.conindid OPERATOR(pg_catalog.=) i.indexrelid), '[]'))
      ORDER BY ic.relname)
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_catalog.pg_am am ON am.oid = ic.relam
     WHERE i.indrelid = t.oid), '[]'),
  'policies', COALESCE((
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', p.polname,
      'permissive', p.polpermissive,
      'cmd', p.polcmd::pg_catalog.text,
      'to_public', p.polroles OPERATOR(pg_catalog.=) '{0}'::pg_catalog.oid[],
      'is_ours', COALESCE(pg_catalog.obj_description(p.oid, 'pg_policy') LIKE 'relay_tenancy:%', false),
      'qual_tree', p.polqual::pg_catalog.text, 'check_tree', p.polwithcheck::pg_catalog.text,
      'definition', (SELECT pg_catalog.row_to_json(pp) FROM pg_catalog.pg_policies pp
                      WHERE pp.schemaname = t.nspname AND pp.tablename = t.relname
                        AND pp.policyname = p.polname))
      ORDER BY p.polname)
      FROM pg_catalog.pg_policy p WHERE p.polrelid = t.oid), '[]'),
  'foreign_keys', COALESCE((
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', f.conname,
      'outgoing', f.conrelid OPERATOR(pg_catalog.=) t.oid,
      'child_oid', f.conrelid::pg_catalog.int8, 'child_schema', cn.nspname, 'child_name', cc.relname,
      'columns', (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord) FROM pg_catalog.unnest(f.conkey) WITH ORDINALITY k(n, ord)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.conrelid AND a.attnum OPERATOR(pg_catalog.=) k.n),
      'parent_oid', f.confrelid::pg_catalog.int8, 'parent_schema', pn.nspname, 'parent_name', pc.relname,
      'parent_columns', (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord) FROM pg_catalog.unnest(f.confkey) WITH ORDINALITY k(n, ord)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.confrelid AND a.attnum OPERATOR(pg_catalog.=) k.n),
      'on_update', f.confupdtype::pg_catalog.text, 'on_delete', f.confdeltype::pg_catalog.text,
      'match_type', f.confmatchtype::pg_catalog.text,
      'deferrable', f.condeferrable, 'deferred', f.condeferred, 'validated', f.convalidated,
      'delete_set_columns', COALESCE((SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord)
                    FROM pg_catalog.unnest(f.confdelsetcols) WITH ORDINALITY k(n, ord)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.conrelid AND a.attnum OPERATOR(pg_catalog.=) k.n), '[]'),
      'definition', pg_catalog.pg_get_constraintdef(f.oid),
      'has_tenant', EXISTS (SELECT 1 FROM pg_catalog.unnest(f.conkey) k(n)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.conrelid AND a.attnum OPERATOR(pg_catalog.=) k.n
                   WHERE a.attname OPERATOR(pg_catalog.=) $3),
      'other_has_tenant', EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid OPERATOR(pg_catalog.=) o.oid AND a.attname OPERATOR(pg_catalog.=) $3
                     AND NOT a.attisdropped AND a.attnotnull
                     AND a.atttypid OPERATOR(pg_catalog.=) t.tenant_type),
      'other_is_owner', pg_catalog.pg_has_role(o.relowner, 'USAGE'),
      'other_owner', pg_catalog.pg_get_userbyid(o.relowner)::pg_catalog.text,
      'parent_tenant_key', (
         SELECT ic.relname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
          WHERE i.indrelid OPERATOR(pg_catalog.=) f.confrelid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
            AND i.indexprs IS NULL AND i.indnkeyatts OPERATOR(pg_catalog.=) (pg_catalog.cardinality(f.confkey) OPERATOR(pg_catalog.+) 1)
            AND (SELECT pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY a.attname)
                   FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(n, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.confrelid AND a.attnum OPERATOR(pg_catalog.=) k.n
                  WHERE k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts)
                OPERATOR(pg_catalog.=)
                (SELECT pg_catalog.array_agg(x.c ORDER BY x.c) FROM (
                   SELECT a.attname::pg_catalog.text AS c FROM pg_catalog.unnest(f.confkey) k(n)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.confrelid AND a.attnum OPERATOR(pg_catalog.=) k.n
                   UNION ALL SELECT $3) x)
          ORDER BY ic.relname LIMIT 1),
      -- filled in by the caller (catalog::read), as names_taken
      'parent_names_taken', '[]'::pg_catalog.json)
      ORDER BY f.conname, f.conrelid)
      FROM (-- the table's own foreign keys, and those that reference it (a foreign key
            -- depends on the table it references): index lookups, no pg_constraint scan
            SELECT con.oid FROM pg_catalog.pg_constraint con WHERE con.conrelid OPERATOR(pg_catalog.=) t.oid
            UNION
            SELECT d.objid FROM pg_catalog.pg_depend d
             WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
               AND d.refobjid OPERATOR(pg_catalog.=) t.oid
               AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass) fo
      JOIN pg_catalog.pg_constraint f ON f.oid OPERATOR(pg_catalog.=) fo.oid
      JOIN pg_catalog.pg_class cc ON cc.oid OPERATOR(pg_catalog.=) f.conrelid
      JOIN pg_catalog.pg_namespace cn ON cn.oid OPERATOR(pg_catalog.=) cc.relnamespace
      JOIN pg_catalog.pg_class pc ON pc.oid OPERATOR(pg_catalog.=) f.confrelid
      JOIN pg_catalog.pg_namespace pn ON pn.oid OPERATOR(pg_catalog.=) pc.relnamespace
      JOIN pg_catalog.pg_class o ON o.oid OPERATOR(pg_catalog.=)
             CASE WHEN f.conrelid OPERATOR(pg_catalog.=) t.oid THEN f.confrelid ELSE f.conrelid END
     WHERE f.contype OPERATOR(pg_catalog.=) 'f'
       AND (f.conrelid OPERATOR(pg_catalog.=) t.oid OR f.confrelid OPERATOR(pg_catalog.=) t.oid)
       AND f.conparentid OPERATOR(pg_catalog.=) 0
       AND (SELECT e.extname FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
             WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid OPERATOR(pg_catalog.=) pc.oid
               AND d.deptype OPERATOR(pg_catalog.=) 'e' LIMIT 1) IS DISTINCT FROM 'relay_tenancy'), '[]'),
  'views', COALESCE((
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'oid', v.oid::pg_catalog.int8, 'schema', vn.nspname, 'name', v.relname, 'relkind', v.relkind::pg_catalog.text,
      'security_invoker', COALESCE((
         SELECT pg_catalog.lower(pg_catalog.split_part(o, '=', 2)) OPERATOR(pg_catalog.=) ANY (ARRAY['true', 'on', 'yes', '1', 't', 'y'])
           FROM pg_catalog.unnest(v.reloptions) o WHERE o OPERATOR(pg_catalog.~~) 'security\_invoker=%' LIMIT 1), false),
      'owner', pg_catalog.pg_get_userbyid(v.relowner)::pg_catalog.text,
      'owner_bypasses_rls', COALESCE((SELECT ro.rolsuper OR ro.rolbypassrls FROM pg_catalog.pg_roles ro
                                        WHERE ro.oid OPERATOR(pg_catalog.=) v.relowner), false),
      'is_owner', pg_catalog.pg_has_role(v.relowner, 'USAGE'))
      ORDER BY vn.nspname, v.relname)
      FROM (SELECT DISTINCT rw.ev_class FROM pg_catalog.pg_depend d
              JOIN pg_catalog.pg_rewrite rw ON rw.oid OPERATOR(pg_catalog.=) d.objid
             WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
               AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
               AND d.refobjid OPERATOR(pg_catalog.=) t.oid
               AND rw.ev_class OPERATOR(pg_catalog.<>) t.oid) dv
      JOIN pg_catalog.pg_class v ON v.oid OPERATOR(pg_catalog.=) dv.ev_class
      JOIN pg_catalog.pg_namespace vn ON vn.oid OPERATOR(pg_catalog.=) v.relnamespace
     WHERE v.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['v', 'm']::pg_catalog."char"[])), '[]'),
  'triggers', COALESCE((
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', tg.tgname, 'enabled', tg.tgenabled::pg_catalog.text) ORDER BY tg.tgname)
      FROM pg_catalog.pg_trigger tg
     WHERE tg.tgrelid OPERATOR(pg_catalog.=) t.oid AND NOT tg.tgisinternal), '[]'),
  'text_opclass_ams', COALESCE((
    SELECT pg_catalog.json_agg(DISTINCT am.amname)
      FROM pg_catalog.pg_opclass oc JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) oc.opcmethod
     WHERE oc.opcintype OPERATOR(pg_catalog.=) t.tenant_type AND oc.opcdefault), '[]'),
  -- The table's constraint names; the relations whose names a generated one could
  -- clash with are added by the caller (catalog::read), one index range scan per
  -- prefix with the prefix as a value (a prepared plan cannot tell a range of a few
  -- names from one of thousands, and scanned pg_class: per-table cost grew with the
  -- schema).
  'names_taken', COALESCE((
    SELECT pg_catalog.json_agg(con.conname::pg_catalog.text) FROM pg_catalog.pg_constraint con
     WHERE con.conrelid OPERATOR(pg_catalog.=) t.oid), '[]'),
  -- filled in by the caller, which knows the registry's qualified name
  'registered', false
)::pg_catalog.text
FROM t
