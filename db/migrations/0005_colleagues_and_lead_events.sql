CREATE TABLE "lead_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"lead_id" uuid NOT NULL,
	"name" text NOT NULL,
	"event_key" text NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "company_id" text;--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "company_key" text;--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "do_not_contact_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sequences" ADD COLUMN "on_colleague_reply" text DEFAULT 'nothing' NOT NULL;--> statement-breakpoint
ALTER TABLE "sequences" ADD COLUMN "colleague_scope" text DEFAULT 'sequence' NOT NULL;--> statement-breakpoint
ALTER TABLE "sequences" ADD COLUMN "lead_event_rules" jsonb DEFAULT '{"stop":["meeting_booked","deal_won","deal_lost"],"pause":[]}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "lead_events" ADD CONSTRAINT "lead_events_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lead_events" ADD CONSTRAINT "lead_events_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "lead_events_account_key_idx" ON "lead_events" USING btree ("account_id","event_key");--> statement-breakpoint
CREATE INDEX "lead_events_lead_idx" ON "lead_events" USING btree ("lead_id");--> statement-breakpoint
CREATE INDEX "leads_account_company_idx" ON "leads" USING btree ("account_id","company_key");--> statement-breakpoint
-- Leads written before company keys: their email's whole domain. The service computes the key
-- with the public-suffix list (and no key for free mail) on every write after this; a free-mail
-- domain kept here never matches a key the service computes for a reply, which is never free mail.
UPDATE "leads" SET "company_key" = 'domain:' || lower(split_part("email", '@', 2)) WHERE "email" LIKE '%@%';
