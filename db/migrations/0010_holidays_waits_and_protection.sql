ALTER TABLE "accounts" ADD COLUMN "country" text;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "closures" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "deliverability" jsonb;--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "country" text;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "complained_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sequences" ADD COLUMN "skip_holidays" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "sequences" ADD COLUMN "protection" jsonb;