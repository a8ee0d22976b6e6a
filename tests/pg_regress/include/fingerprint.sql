-- pg_temp.fingerprint(): every object of extension relay_tenancy described by name,
-- one line per property (no oids, whitespace folded), to compare two installations.
CREATE FUNCTION pg_temp.fingerprint() RETURNS SETOF text LANGUAGE sql AS $fp$
SELECT regexp_replace(line, '\s+', ' ', 'g') FROM (
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'relay_tenancy'),
members AS (
  SELECT d.classid, d.objid FROM pg_depend d, ext
   WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e')
SELECT 'member ' || pg_describe_object(classid, objid, 0) FROM members
UNION ALL
SELECT format('extension schema %s acl=%s', n.nspname, n.nspacl)
  FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname = 'relay_tenancy'
UNION ALL
SELECT format('function %s in %s -> %s strict=%s secdef=%s volatile=%s parallel=%s config=%s acl=%s lang=%s src=%s',
              p.oid::regprocedure, p.pronamespace::regnamespace, pg_get_function_result(p.oid), p.proisstrict, p.prosecdef, p.provolatile,
              p.proparallel, p.proconfig, p.proacl, l.lanname, p.prosrc)
  FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  JOIN pg_language l ON l.oid = p.prolang
UNION ALL
SELECT format('function %s args %s', p.oid::regprocedure, pg_get_function_arguments(p.oid))
  FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
UNION ALL
SELECT format('relation %s in %s kind=%s rls=%s force=%s acl=%s options=%s comment=%s', c.oid::regclass, c.relnamespace::regnamespace, c.relkind,
              c.relrowsecurity, c.relforcerowsecurity, c.relacl, c.reloptions, obj_description(c.oid, 'pg_class'))
  FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
UNION ALL
SELECT format('column %s.%s %s notnull=%s default=%s', c.oid::regclass, a.attname, format_type(a.atttypid, a.atttypmod),
              a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid))
  FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
UNION ALL
SELECT format('constraint %s on %s: %s', k.conname, k.conrelid::regclass, pg_get_constraintdef(k.oid))
  FROM members m JOIN pg_constraint k ON m.classid = 'pg_class'::regclass AND k.conrelid = m.objid
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid)
  FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
UNION ALL
SELECT format('policy %s on %s %s %s to %s using %s check %s comment %s', p.polname, p.polrelid::regclass,
              CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END, p.polcmd, p.polroles,
              pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid), obj_description(p.oid, 'pg_policy'))
  FROM members m JOIN pg_policy p ON m.classid = 'pg_class'::regclass AND p.polrelid = m.objid
UNION ALL
SELECT format('trigger %s enabled=%s: %s', t.tgname, t.tgenabled, pg_get_triggerdef(t.oid))
  FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid AND NOT t.tgisinternal
UNION ALL
SELECT format('view %s: %s', c.oid::regclass, pg_get_viewdef(c.oid))
  FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind = 'v'
UNION ALL
SELECT format('event trigger %s on %s tags %s enabled=%s function %s', e.evtname, e.evtevent, e.evttags, e.evtenabled,
              e.evtfoid::regproc)
  FROM members m JOIN pg_event_trigger e ON m.classid = 'pg_event_trigger'::regclass AND e.oid = m.objid
UNION ALL
SELECT format('configuration table %s filter %s', f.reloid::regclass, f.filter)
  FROM pg_extension x, unnest(x.extconfig, x.extcondition) f(reloid, filter)
 WHERE x.extname = 'relay_tenancy'
) lines(line)
$fp$;
