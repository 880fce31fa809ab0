CREATE TABLE "senders" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"name" text DEFAULT '' NOT NULL,
	"email" text,
	"email_confirmed_at" timestamp with time zone,
	"signature" text DEFAULT '' NOT NULL,
	"timezone" text,
	"daily_cap" integer,
	"retired_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "default_sender_id" uuid;--> statement-breakpoint
ALTER TABLE "enrolments" ADD COLUMN "sender_id" uuid;--> statement-breakpoint
ALTER TABLE "enrolments" ADD COLUMN "waiting_for" jsonb;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sender_id" uuid;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "sender_id" uuid;--> statement-breakpoint
ALTER TABLE "sequences" ADD COLUMN "sender_id" uuid;--> statement-breakpoint
ALTER TABLE "senders" ADD CONSTRAINT "senders_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "senders_account_idx" ON "senders" USING btree ("account_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "senders_account_email_idx" ON "senders" USING btree ("account_id",lower("email")) WHERE retired_at is null and email is not null;--> statement-breakpoint
ALTER TABLE "enrolments" ADD CONSTRAINT "enrolments_sender_id_senders_id_fk" FOREIGN KEY ("sender_id") REFERENCES "public"."senders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_sender_id_senders_id_fk" FOREIGN KEY ("sender_id") REFERENCES "public"."senders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sequences" ADD CONSTRAINT "sequences_sender_id_senders_id_fk" FOREIGN KEY ("sender_id") REFERENCES "public"."senders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "enrolments_sender_idx" ON "enrolments" USING btree ("sender_id","status") WHERE sender_id is not null;--> statement-breakpoint
CREATE INDEX "messages_sender_sent_idx" ON "messages" USING btree ("sender_id","created_at") WHERE sender_id is not null;--> statement-breakpoint
-- The account's one sender becomes its first sender row, with the account's id (so a confirmation
-- link sent before this change, signed over that id and the address, still confirms it).
INSERT INTO "senders" ("id", "account_id", "name", "email", "email_confirmed_at", "signature", "created_at")
SELECT "id", "id", "sender_name", "sender_email", "sender_email_confirmed_at", "signature", "created_at" FROM "accounts"
WHERE "sender_name" <> '' OR "sender_email" IS NOT NULL OR "signature" <> '';--> statement-breakpoint
UPDATE "accounts" SET "default_sender_id" = "id" WHERE "id" IN (SELECT "id" FROM "senders");--> statement-breakpoint
-- Enrolments live at the change keep sending as the account's former sender.
UPDATE "enrolments" SET "sender_id" = "account_id"
WHERE "status" IN ('active', 'paused') AND "account_id" IN (SELECT "id" FROM "senders");
