CREATE TABLE "deployments" (
	"id" text PRIMARY KEY NOT NULL,
	"service_id" uuid NOT NULL,
	"status" text NOT NULL,
	"family" text NOT NULL,
	"revision" integer NOT NULL,
	"desired_count" integer NOT NULL,
	"pending_count" integer DEFAULT 0 NOT NULL,
	"running_count" integer DEFAULT 0 NOT NULL,
	"failed_tasks" integer DEFAULT 0 NOT NULL,
	"rollout_state" text NOT NULL,
	"rollout_state_reason" text NOT NULL,
	"launch" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "service_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"seq" bigserial NOT NULL,
	"service_id" uuid NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"message" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "family" text NOT NULL;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "revision" integer NOT NULL;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "desired_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "running_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "pending_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "launch_type" text DEFAULT 'EC2' NOT NULL;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "scheduling_strategy" text DEFAULT 'REPLICA' NOT NULL;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "deployment_configuration" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "placement_constraints" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "placement_strategy" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "health_check_grace_period_seconds" integer;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "client_token" text;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "created_by" text;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "service_id" uuid;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "deployment_id" text;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_service_id_services_id_fk" FOREIGN KEY ("service_id") REFERENCES "public"."services"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_task_definition_fk" FOREIGN KEY ("family","revision") REFERENCES "public"."task_definitions"("family","revision") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "service_events" ADD CONSTRAINT "service_events_service_id_services_id_fk" FOREIGN KEY ("service_id") REFERENCES "public"."services"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "deployments_service" ON "deployments" USING btree ("service_id");--> statement-breakpoint
CREATE INDEX "service_events_service_created" ON "service_events" USING btree ("service_id","created_at","seq");--> statement-breakpoint
ALTER TABLE "services" ADD CONSTRAINT "services_task_definition_fk" FOREIGN KEY ("family","revision") REFERENCES "public"."task_definitions"("family","revision") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_service_id_services_id_fk" FOREIGN KEY ("service_id") REFERENCES "public"."services"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "services_cluster_name_live" ON "services" USING btree ("cluster_id","name") WHERE status <> 'INACTIVE';--> statement-breakpoint
CREATE INDEX "tasks_service" ON "tasks" USING btree ("service_id");