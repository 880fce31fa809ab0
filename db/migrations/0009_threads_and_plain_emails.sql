ALTER TABLE "messages" ADD COLUMN "rfc_message_id" text;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "thread_subject" text;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "thread_references" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "body_text" text;--> statement-breakpoint
ALTER TABLE "sequences" ADD COLUMN "format" text DEFAULT 'branded' NOT NULL;--> statement-breakpoint
ALTER TABLE "steps" ADD COLUMN "in_thread" boolean;--> statement-breakpoint
ALTER TABLE "steps" ADD COLUMN "quote_previous" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_rfc_message_id_idx" ON "messages" USING btree ("rfc_message_id") WHERE rfc_message_id is not null;