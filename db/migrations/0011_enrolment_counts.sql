CREATE TABLE "sequence_enrolment_counts" (
	"sequence_id" uuid NOT NULL,
	"status" text NOT NULL,
	"enrolments" integer NOT NULL,
	CONSTRAINT "sequence_enrolment_counts_sequence_id_status_pk" PRIMARY KEY("sequence_id","status")
);
--> statement-breakpoint
-- Statement-level, with transition tables: one upsert per (sequence, status) that a statement
-- changed, in a fixed order, so that concurrent statements take the counter rows' locks in the
-- same order (no deadlock), and a bulk enrolment of 10,000 is one upsert, not 10,000.
CREATE FUNCTION "count_sequence_enrolments"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO sequence_enrolment_counts AS c (sequence_id, status, enrolments)
    SELECT sequence_id, status, count(*)::int FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (sequence_id, status) DO UPDATE SET enrolments = c.enrolments + excluded.enrolments;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO sequence_enrolment_counts AS c (sequence_id, status, enrolments)
    SELECT sequence_id, status, -count(*)::int FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (sequence_id, status) DO UPDATE SET enrolments = c.enrolments + excluded.enrolments;
  ELSE
    -- Most updates change no status (a plan, a send): nothing to write, and no counter locked.
    INSERT INTO sequence_enrolment_counts AS c (sequence_id, status, enrolments)
    SELECT sequence_id, status, sum(delta)::int FROM (
      SELECT sequence_id, status, 1 AS delta FROM new_rows
      UNION ALL
      SELECT sequence_id, status, -1 AS delta FROM old_rows
    ) AS changes
    GROUP BY 1, 2 HAVING sum(delta) <> 0 ORDER BY 1, 2
    ON CONFLICT (sequence_id, status) DO UPDATE SET enrolments = c.enrolments + excluded.enrolments;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "enrolments_counted_on_insert" AFTER INSERT ON "enrolments"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "count_sequence_enrolments"();
--> statement-breakpoint
CREATE TRIGGER "enrolments_counted_on_update" AFTER UPDATE ON "enrolments"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "count_sequence_enrolments"();
--> statement-breakpoint
CREATE TRIGGER "enrolments_counted_on_delete" AFTER DELETE ON "enrolments"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "count_sequence_enrolments"();
--> statement-breakpoint
-- The enrolments already there. The triggers' creation locks enrolments against writes until this
-- migration commits, so no change lands between the count and the triggers.
INSERT INTO "sequence_enrolment_counts" ("sequence_id", "status", "enrolments")
SELECT "sequence_id", "status", count(*)::int FROM "enrolments" GROUP BY 1, 2;
