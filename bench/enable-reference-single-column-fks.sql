-- The nine per-table calls of scripts/enable-reference.sql, keeping every foreign key
-- between the nine tables single-column (keep_foreign_keys), as the reference
-- migrations do: the like-for-like comparison in BENCHMARKS.md.
SELECT relay_enable_tenancy('users', global_unique => ARRAY['email']);
SELECT relay_enable_tenancy('skills', keep_foreign_keys => ARRAY['skills_author_id_fkey', 'skills_forked_from_fkey']);
SELECT relay_enable_tenancy('ratings', keep_foreign_keys => ARRAY['ratings_skill_id_fkey', 'ratings_user_id_fkey']);
SELECT relay_enable_tenancy('usage_events', keep_foreign_keys => ARRAY['usage_events_skill_id_fkey', 'usage_events_user_id_fkey']);
SELECT relay_enable_tenancy('skill_versions', keep_foreign_keys => ARRAY['skill_versions_skill_id_fkey', 'skill_versions_created_by_fkey']);
SELECT relay_enable_tenancy('skill_embeddings', keep_foreign_keys => ARRAY['skill_embeddings_skill_id_fkey']);
SELECT relay_enable_tenancy('skill_reviews', keep_foreign_keys => ARRAY['skill_reviews_skill_id_fkey']);
SELECT relay_enable_tenancy('api_keys', global_unique => ARRAY['key_hash'], keep_foreign_keys => ARRAY['api_keys_user_id_fkey']);
SELECT relay_enable_tenancy('site_settings');
