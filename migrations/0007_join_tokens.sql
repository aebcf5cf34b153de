-- Join tokens: single use by default, always with an expiry, optionally capping what a host may declare.
-- Tokens made before this were reusable and often never expired: each keeps one use and expires within the hour.
ALTER TABLE "join_tokens" ADD COLUMN "max_uses" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "join_tokens" ADD COLUMN "uses_remaining" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "join_tokens" ADD COLUMN "max_cpu" integer;--> statement-breakpoint
ALTER TABLE "join_tokens" ADD COLUMN "max_memory" integer;--> statement-breakpoint
ALTER TABLE "join_tokens" ADD COLUMN "last_used_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "join_tokens" ADD COLUMN "require_approval" boolean DEFAULT false NOT NULL;--> statement-breakpoint
UPDATE "join_tokens" SET "expires_at" = now() + interval '1 hour' WHERE "expires_at" IS NULL OR "expires_at" > now() + interval '1 hour';--> statement-breakpoint
ALTER TABLE "join_tokens" ALTER COLUMN "expires_at" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "join_tokens" ADD CONSTRAINT "join_tokens_uses" CHECK ("uses_remaining" >= 0 AND "uses_remaining" <= "max_uses");--> statement-breakpoint
CREATE INDEX "join_tokens_cluster_created" ON "join_tokens" USING btree ("cluster_id","created_at","id");
