ALTER TABLE "inbound_messages" ADD COLUMN "classification" text DEFAULT 'reply' NOT NULL;--> statement-breakpoint
ALTER TABLE "inbound_messages" ADD COLUMN "evidence" jsonb;--> statement-breakpoint
ALTER TABLE "inbound_messages" ADD COLUMN "return_date" text;--> statement-breakpoint
ALTER TABLE "inbound_messages" ADD COLUMN "action" text DEFAULT 'on_reply' NOT NULL;--> statement-breakpoint
ALTER TABLE "inbound_messages" ADD COLUMN "resumes_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "inbound_messages" ADD COLUMN "corrected_from" text;--> statement-breakpoint
ALTER TABLE "inbound_messages" ADD COLUMN "corrected_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sequences" ADD COLUMN "out_of_office_days" integer DEFAULT 7 NOT NULL;--> statement-breakpoint
-- Emails received before classification: what the service did with them then.
UPDATE "inbound_messages" SET
  "classification" = CASE WHEN "is_auto_reply" THEN 'auto_reply' WHEN "sender" = 'other' THEN 'from_other_address' ELSE 'reply' END,
  "action" = CASE WHEN "is_auto_reply" OR "sender" = 'other' THEN 'record_only' ELSE 'on_reply' END;
