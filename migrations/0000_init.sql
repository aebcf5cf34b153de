CREATE TABLE "access_keys" (
	"access_key_id" text PRIMARY KEY NOT NULL,
	"secret_ciphertext" text NOT NULL,
	"name" text NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "access_keys_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "clusters" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"status" text NOT NULL,
	"settings" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "clusters_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "container_instances" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"cluster_id" uuid NOT NULL,
	"status" text NOT NULL,
	"hostname" text DEFAULT '' NOT NULL,
	"registered_cpu" integer DEFAULT 0 NOT NULL,
	"registered_memory" integer DEFAULT 0 NOT NULL,
	"reserved_ports" text[] DEFAULT '{}'::text[] NOT NULL,
	"attributes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"version_info" jsonb,
	"credential_hash" text,
	"last_heartbeat_at" timestamp (3) with time zone,
	"desired_version" bigint DEFAULT 0 NOT NULL,
	"registered_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "join_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"cluster_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone,
	"revoked_at" timestamp (3) with time zone,
	CONSTRAINT "join_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "services" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"cluster_id" uuid NOT NULL,
	"name" text NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tags" (
	"resource_arn" text NOT NULL,
	"key" text NOT NULL,
	"value" text NOT NULL,
	CONSTRAINT "tags_resource_arn_key_pk" PRIMARY KEY("resource_arn","key")
);
--> statement-breakpoint
CREATE TABLE "task_definition_families" (
	"family" text PRIMARY KEY NOT NULL,
	"latest_revision" integer NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "task_definitions" (
	"family" text NOT NULL,
	"revision" integer NOT NULL,
	"status" text NOT NULL,
	"spec" jsonb NOT NULL,
	"registered_by" text,
	"registered_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"deregistered_at" timestamp (3) with time zone,
	CONSTRAINT "task_definitions_family_revision_pk" PRIMARY KEY("family","revision")
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"id" text PRIMARY KEY NOT NULL,
	"cluster_id" uuid NOT NULL,
	"container_instance_id" uuid,
	"last_status" text NOT NULL,
	"desired_status" text NOT NULL,
	"reserved_cpu" integer DEFAULT 0 NOT NULL,
	"reserved_memory" integer DEFAULT 0 NOT NULL,
	"reserved_ports" text[] DEFAULT '{}' NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "container_instances" ADD CONSTRAINT "container_instances_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "join_tokens" ADD CONSTRAINT "join_tokens_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "services" ADD CONSTRAINT "services_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_definitions" ADD CONSTRAINT "task_definitions_family_task_definition_families_family_fk" FOREIGN KEY ("family") REFERENCES "public"."task_definition_families"("family") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_cluster_id_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."clusters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_container_instance_id_container_instances_id_fk" FOREIGN KEY ("container_instance_id") REFERENCES "public"."container_instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "container_instances_cluster_status" ON "container_instances" USING btree ("cluster_id","status");--> statement-breakpoint
CREATE INDEX "services_cluster_status" ON "services" USING btree ("cluster_id","status");--> statement-breakpoint
CREATE INDEX "task_definitions_status_family_revision" ON "task_definitions" USING btree ("status","family","revision");--> statement-breakpoint
CREATE INDEX "tasks_cluster_desired" ON "tasks" USING btree ("cluster_id","desired_status");--> statement-breakpoint
CREATE INDEX "tasks_instance_last" ON "tasks" USING btree ("container_instance_id","last_status");