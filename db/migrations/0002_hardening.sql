CREATE TABLE "test_emails" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"step_id" uuid,
	"to_email" text NOT NULL,
	"provider_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "enrolment_batches" ALTER COLUMN "results" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "sender_email_confirmed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "portal_webhook_previous_secret" text;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "portal_webhook_previous_secret_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "enrolment_batches" ADD COLUMN "request_hash" text;--> statement-breakpoint
ALTER TABLE "inbound_messages" ADD COLUMN "sender" text DEFAULT 'lead' NOT NULL;--> statement-breakpoint
ALTER TABLE "test_emails" ADD CONSTRAINT "test_emails_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "test_emails_account_created_idx" ON "test_emails" USING btree ("account_id","created_at");