CREATE TABLE "inbound_corrections" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"inbound_id" uuid NOT NULL,
	"previous_class" text NOT NULL,
	"previous_action" text NOT NULL,
	"class" text NOT NULL,
	"action" text NOT NULL,
	"return_date" text,
	"resumes_at" timestamp with time zone,
	"enrolment_status" text,
	"paused_by_this" boolean DEFAULT false NOT NULL,
	"effect" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"applied_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "lead_unsubscriptions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"lead_id" uuid NOT NULL,
	"source" text NOT NULL,
	"inbound_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lifted_at" timestamp with time zone
);
--> statement-breakpoint
DROP INDEX "inbound_messages_provider_idx";--> statement-breakpoint
ALTER TABLE "inbound_messages" ADD COLUMN "sender_authenticated" boolean;--> statement-breakpoint
ALTER TABLE "inbound_messages" ADD COLUMN "processed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "inbound_corrections" ADD CONSTRAINT "inbound_corrections_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbound_corrections" ADD CONSTRAINT "inbound_corrections_inbound_id_inbound_messages_id_fk" FOREIGN KEY ("inbound_id") REFERENCES "public"."inbound_messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lead_unsubscriptions" ADD CONSTRAINT "lead_unsubscriptions_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lead_unsubscriptions" ADD CONSTRAINT "lead_unsubscriptions_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "inbound_corrections_inbound_idx" ON "inbound_corrections" USING btree ("inbound_id","created_at");--> statement-breakpoint
CREATE INDEX "lead_unsubscriptions_lead_idx" ON "lead_unsubscriptions" USING btree ("lead_id");--> statement-breakpoint
CREATE UNIQUE INDEX "lead_unsubscriptions_inbound_idx" ON "lead_unsubscriptions" USING btree ("inbound_id");--> statement-breakpoint
CREATE UNIQUE INDEX "inbound_messages_account_provider_idx" ON "inbound_messages" USING btree ("account_id","provider_id");--> statement-breakpoint
-- Inbound emails recorded before processed_at: their side effects ran when they arrived.
UPDATE "inbound_messages" SET "processed_at" = "received_at";--> statement-breakpoint
-- Leads unsubscribed before causes were kept: the email that asked, when the timeline names one
-- (a correction may then lift it), else one cause of unknown origin, which no correction lifts.
INSERT INTO "lead_unsubscriptions" ("account_id", "lead_id", "source", "inbound_id", "created_at")
SELECT DISTINCT ON (l."id") l."account_id", l."id", coalesce(e."detail"->>'source', 'before_causes_were_kept'),
       CASE WHEN e."detail"->>'inboundId' ~ '^[0-9a-f-]{36}$' THEN (e."detail"->>'inboundId')::uuid END, l."unsubscribed_at"
FROM "leads" l
LEFT JOIN "enrolment_events" e ON e."type" = 'unsubscribe' AND e."detail" ? 'inboundId'
  AND e."enrolment_id" IN (SELECT "id" FROM "enrolments" WHERE "lead_id" = l."id")
WHERE l."unsubscribed_at" IS NOT NULL
ORDER BY l."id", e."created_at" DESC;
