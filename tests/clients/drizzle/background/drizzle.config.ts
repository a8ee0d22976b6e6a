// A second migrations folder: a big table converted online by a migration.
// drizzle-kit migrate runs every migration inside one transaction, where PostgreSQL
// refuses CREATE INDEX CONCURRENTLY; relay_enable_tenancy_background queues the online
// path for relay's background worker instead and returns at once.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  out: './migrations',
  dbCredentials: { url: process.env.DATABASE_URL ?? '' },
  migrations: { table: '__drizzle_migrations_background' },
});
