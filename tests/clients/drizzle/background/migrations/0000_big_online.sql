-- A big table, converted online: the worker starts when drizzle-kit's transaction
-- commits; `CALL relay_online_wait('big')` (a deploy step) waits for it.
CREATE TABLE "big" ("id" bigint PRIMARY KEY, "email" text NOT NULL UNIQUE, "v" integer DEFAULT 0 NOT NULL);--> statement-breakpoint
INSERT INTO "big" ("id", "email") SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 200000) g;--> statement-breakpoint
SELECT public.relay_enable_tenancy_background('big');
