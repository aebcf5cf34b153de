CREATE TABLE "placement_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"cluster_id" uuid NOT NULL,
	"client_token" text,
	"status" text NOT NULL,
	"spec" jsonb NOT NULL,
	"outcome" jsonb,
	"conflicts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp (3) with time zone,
	CONSTRAINT "placement_requests_cluster_client_token" UNIQUE("cluster_id","client_token")
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "placement_request_id" uuid;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "family" text NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "revision" integer NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "overrides" jsonb DEFAULT '{"containerOverrides":[]}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "group" text NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "started_by" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "launch_type" text DEFAULT 'EC2' NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "health_status" text DEFAULT 'UNKNOWN' NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "stop_code" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "stopped_reason" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "containers" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "pull_started_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "pull_stopped_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "started_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "stopping_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "execution_stopped_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "stopped_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "connectivity_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "placement_requests" ADD CONSTRAINT "placement_requests_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "placement_requests_status_created" ON "placement_requests" USING btree ("status","created_at");--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_placement_request_id_placement_requests_id_fk" FOREIGN KEY ("placement_request_id") REFERENCES "public"."placement_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_task_definition_fk" FOREIGN KEY ("family","revision") REFERENCES "public"."task_definitions"("family","revision") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "tasks_placement_request" ON "tasks" USING btree ("placement_request_id");--> statement-breakpoint
CREATE INDEX "tasks_stopped_at" ON "tasks" USING btree ("stopped_at");