-- Access keys with policies (issue 18): a user (name) may hold two keys, for rotation; each key
-- carries its IAM-style policy. The keys that exist already are admin keys: full access.
ALTER TABLE "access_keys" DROP CONSTRAINT "access_keys_name_unique";--> statement-breakpoint
ALTER TABLE "access_keys" ADD COLUMN "policy" jsonb;--> statement-breakpoint
UPDATE "access_keys" SET "policy" = '{"Version":"2012-10-17","Statement":[{"Sid":"Everything","Effect":"Allow","Action":"*","Resource":"*"}]}'::jsonb;--> statement-breakpoint
ALTER TABLE "access_keys" ALTER COLUMN "policy" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "access_keys" ADD COLUMN "policy_name" text;--> statement-breakpoint
UPDATE "access_keys" SET "policy_name" = 'AdministratorAccess';--> statement-breakpoint
ALTER TABLE "access_keys" ADD COLUMN "updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
CREATE INDEX "access_keys_name" ON "access_keys" USING btree ("name");--> statement-breakpoint
-- The audit log: one row per mutating call (and per refused call), written by the request itself.
CREATE TABLE "audit_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"request_id" text NOT NULL,
	"access_key_id" text NOT NULL,
	"user_name" text,
	"action" text NOT NULL,
	"resources" jsonb NOT NULL,
	"result" text NOT NULL,
	"source_address" text NOT NULL
);--> statement-breakpoint
CREATE INDEX "audit_events_at" ON "audit_events" USING btree ("at","id");--> statement-breakpoint
CREATE INDEX "audit_events_key" ON "audit_events" USING btree ("access_key_id","id");--> statement-breakpoint
CREATE INDEX "audit_events_action" ON "audit_events" USING btree ("action","id");
