-- Per-host client certificates (mTLS identity of the agent): the sha256 of the certificate the
-- control plane last issued to the instance, and of the one before it (valid until it expires, so a
-- renewal does not cut off requests the agent still has in flight with the old one).
ALTER TABLE "container_instances" ADD COLUMN "certificate_fingerprint" text;--> statement-breakpoint
ALTER TABLE "container_instances" ADD COLUMN "previous_certificate_fingerprint" text;
