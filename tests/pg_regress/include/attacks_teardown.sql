-- After every attack: t_b's rows are exactly as they were.
RESET ROLE;
RESET app.current_tenant_id;
SELECT b.tbl, count(*) AS rows,
       bool_and(b.r = (SELECT row_to_json(d)::text FROM atk_docs d WHERE b.tbl = 'atk_docs' AND d.id = b.id
                       UNION ALL SELECT row_to_json(n)::text FROM atk_notes n WHERE b.tbl = 'atk_notes' AND n.id = b.id
                       UNION ALL SELECT row_to_json(c)::text FROM atk_contacts c WHERE b.tbl = 'atk_contacts' AND c.id = b.id))
         AS unchanged
  FROM atk_b_before b GROUP BY b.tbl ORDER BY b.tbl;
SELECT 'atk_docs' AS tbl, tenant_id, count(*) FROM atk_docs GROUP BY tenant_id
UNION ALL SELECT 'atk_notes', tenant_id, count(*) FROM atk_notes GROUP BY tenant_id
UNION ALL SELECT 'atk_contacts', tenant_id, count(*) FROM atk_contacts GROUP BY tenant_id
ORDER BY 1, 2;

-- Clean up, so later tests see none of this.
DROP TABLE atk_b_before;
DELETE FROM relay.relay_tables WHERE relid IN ('atk_docs'::regclass, 'atk_notes'::regclass, 'atk_contacts'::regclass);
DROP OWNED BY atk_app, atk_owner;
DELETE FROM relay.tenants WHERE id IN ('t_a', 't_b');
DROP ROLE atk_app, atk_owner;
