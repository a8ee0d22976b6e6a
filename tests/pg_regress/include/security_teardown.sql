-- Clean up: the two roles and everything they own (sec_docs, sec_evil) go, so later
-- tests see none of it. The tenants sec_a and sec_b stay (include/fixtures.sql).
DROP OWNED BY sec_app, sec_owner;
DROP ROLE sec_app, sec_owner;
