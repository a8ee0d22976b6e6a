-- relay_tenancy 0.1.0 -> 0.2.0 (ALTER EXTENSION relay_tenancy UPDATE).
-- Runs in the extension's schema, as the extension's owner, in one transaction.
-- The upgrade test (tests/upgrade) checks that the catalog afterwards matches a
-- fresh 0.2.0 install object by object.
\echo Use "ALTER EXTENSION relay_tenancy UPDATE" to load this file. \quit
