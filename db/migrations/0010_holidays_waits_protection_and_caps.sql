ALTER TABLE "accounts" ADD COLUMN "country" text;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "closures" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "deliverability" jsonb;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "recipient_domain_daily_cap" integer;--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "country" text;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "complained_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "recipient_key" text;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "first_of_enrolment" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "senders" ADD COLUMN "protection" jsonb;--> statement-breakpoint
ALTER TABLE "sequences" ADD COLUMN "skip_holidays" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "sequences" ADD COLUMN "protection" jsonb;--> statement-breakpoint
ALTER TABLE "sequences" ADD COLUMN "new_leads_per_day" integer;--> statement-breakpoint
CREATE INDEX "enrolments_cap_queue_idx" ON "enrolments" USING btree ("account_id",(waiting_for->>'queue')) WHERE (waiting_for->>'queue') is not null;--> statement-breakpoint
CREATE INDEX "messages_recipient_idx" ON "messages" USING btree ("account_id","recipient_key","created_at") WHERE recipient_key is not null;--> statement-breakpoint
CREATE INDEX "messages_first_of_enrolment_idx" ON "messages" USING btree ("account_id","created_at") WHERE first_of_enrolment;