ALTER TABLE "accounts" DROP COLUMN "sender_name";--> statement-breakpoint
ALTER TABLE "accounts" DROP COLUMN "sender_email";--> statement-breakpoint
ALTER TABLE "accounts" DROP COLUMN "sender_email_confirmed_at";--> statement-breakpoint
ALTER TABLE "accounts" DROP COLUMN "signature";