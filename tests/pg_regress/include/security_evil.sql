-- sec_app's logging operators, in its schema sec_evil (include/security_setup.sql): each
-- records who called it in sec_evil.calls. First in search_path, they would win over
-- pg_catalog's for any unqualified comparison (security_search_path, signed), and
-- security_grants has sec_app's trigger function write to the same log.

SET ROLE sec_app;
CREATE TABLE sec_evil.calls (who name, at text);
GRANT INSERT ON sec_evil.calls TO PUBLIC;
CREATE FUNCTION sec_evil.log_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO sec_evil.calls VALUES (current_user, 'text = text'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE FUNCTION sec_evil.log_oid_eq(a oid, b oid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO sec_evil.calls VALUES (current_user, 'oid = oid'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE FUNCTION sec_evil.log_regclass_eq(a regclass, b oid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO sec_evil.calls VALUES (current_user, 'regclass = oid'); RETURN a::oid OPERATOR(pg_catalog.=) b; END $$;
CREATE FUNCTION sec_evil.log_name_eq(a name, b name) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO sec_evil.calls VALUES (current_user, 'name = name'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR sec_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sec_evil.log_eq);
CREATE OPERATOR sec_evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = sec_evil.log_oid_eq);
CREATE OPERATOR sec_evil.= (LEFTARG = regclass, RIGHTARG = oid, FUNCTION = sec_evil.log_regclass_eq);
CREATE OPERATOR sec_evil.= (LEFTARG = name, RIGHTARG = name, FUNCTION = sec_evil.log_name_eq);
RESET ROLE;
