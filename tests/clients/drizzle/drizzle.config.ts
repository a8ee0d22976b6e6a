import { defineConfig } from 'drizzle-kit';
import { relaySchemaFilter } from '@relay-tenancy/drizzle';

export default defineConfig({
  dialect: 'postgresql',
  schema: './schema.ts',
  out: './migrations',
  dbCredentials: { url: process.env.DATABASE_URL ?? '' },
  // relay's schema (relay.tenants, relay.audit_logs, ...) is not the application's
  schemaFilter: relaySchemaFilter,
});
