-- The nine relay_enable_tenancy calls of enable_reference.sql, as one count: for tests
-- that need the reference application converted and are about something else.
SELECT count(*) AS steps FROM (
  SELECT relay_enable_tenancy('users', global_unique => ARRAY['email']) UNION ALL
  SELECT relay_enable_tenancy('skills') UNION ALL
  SELECT relay_enable_tenancy('ratings') UNION ALL
  SELECT relay_enable_tenancy('usage_events') UNION ALL
  SELECT relay_enable_tenancy('skill_versions') UNION ALL
  SELECT relay_enable_tenancy('skill_embeddings') UNION ALL
  SELECT relay_enable_tenancy('skill_reviews') UNION ALL
  SELECT relay_enable_tenancy('api_keys', global_unique => ARRAY['key_hash']) UNION ALL
  SELECT relay_enable_tenancy('site_settings')) s;
