-- Tenant-enable the nine tables of the reference application (tests/reference):
-- one call per table. users.email (a login identity) and api_keys.key_hash (looked
-- up before the tenant is known) stay globally unique, as in the reference.
-- Used by the demo and the benchmark; tests/pg_regress/sql/enable_reference.sql
-- spells the same calls out as the spec.
SELECT relay_enable_tenancy('users', global_unique => ARRAY['email']);
SELECT relay_enable_tenancy('skills');
SELECT relay_enable_tenancy('ratings');
SELECT relay_enable_tenancy('usage_events');
SELECT relay_enable_tenancy('skill_versions');
SELECT relay_enable_tenancy('skill_embeddings');
SELECT relay_enable_tenancy('skill_reviews');
SELECT relay_enable_tenancy('api_keys', global_unique => ARRAY['key_hash']);
SELECT relay_enable_tenancy('site_settings');
