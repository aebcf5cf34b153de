CREATE TABLE "secrets" (
	"name" text PRIMARY KEY NOT NULL,
	"value_ciphertext" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
