-- pg_temp.shape(schema): what a round trip must give back in a schema, one line per
-- column (type, NOT NULL, default), constraint, index, policy, trigger and row level
-- security flag of its tables (partitioned ones included).
CREATE FUNCTION pg_temp.shape(sch regnamespace) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT format('%s column %s %s%s%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''))
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
   WHERE c.relnamespace = sch AND c.relkind IN ('r', 'p')
  UNION ALL
  SELECT format('%s constraint %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = sch
  UNION ALL
  SELECT pg_get_indexdef(indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
   WHERE c.relnamespace = sch
  UNION ALL
  SELECT format('%s rls %s force %s', relname, relrowsecurity, relforcerowsecurity)
    FROM pg_class WHERE relnamespace = sch AND relkind IN ('r', 'p')
  UNION ALL
  SELECT format('%s policy %s', tablename, policyname) FROM pg_policies WHERE schemaname = (SELECT nspname FROM pg_namespace WHERE oid = sch)
  UNION ALL
  SELECT format('%s trigger %s', tgrelid::regclass, tgname) FROM pg_trigger
   WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = sch)
$$;
