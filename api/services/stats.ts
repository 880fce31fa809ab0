import { sql } from 'drizzle-orm';
import type { Account } from '../../db/accounts.js';
import { rowsOf, type Db } from '../../db/client.js';
import { findSequence } from './sequences.js';

// Statistics of a sequence's emails: what was sent, delivered, opened, clicked, replied to,
// bounced and unsubscribed from, per step and for the whole sequence, with their rates.

export interface Counts {
  sent: number;
  delivered: number;
  opened: number;
  clicked: number;
  replied: number;
  bounced: number;
  unsubscribed: number;
}

const ratio = (part: number, whole: number) => (whole ? Math.round((part / whole) * 10_000) / 10_000 : 0);

/** Rates are shares of emails sent (per step and per sequence); the sequence's reply rate is per enrolment. */
function withRates<T extends Counts>(c: T) {
  return {
    ...c,
    rates: {
      delivered: ratio(c.delivered, c.sent),
      opened: ratio(c.opened, c.sent),
      clicked: ratio(c.clicked, c.sent),
      replied: ratio(c.replied, c.sent),
      bounced: ratio(c.bounced, c.sent),
      unsubscribed: ratio(c.unsubscribed, c.sent),
    },
  };
}

/**
 * Per-step and per-sequence statistics. A reply or an unsubscribe is counted against the last
 * email the lead had received from the sequence at that moment.
 */
export async function sequenceStats(db: Db, sequenceId: string) {
  const perStep = rowsOf<Counts & { step_id: string; position: number; subject: string; deleted: boolean }>(
    await db.execute(sql`
      with sent as (
        select m.*, e.replied_at as e_replied_at, l.unsubscribed_at as l_unsub_at
        from messages m
        join enrolments e on e.id = m.enrolment_id
        join leads l on l.id = m.lead_id
        where e.sequence_id = ${sequenceId} and m.sent_at is not null
      ),
      last_before as (
        select distinct on (s.enrolment_id, kind) s.step_id, kind
        from sent s
        cross join lateral (values ('reply', s.e_replied_at), ('unsubscribe', s.l_unsub_at)) as k(kind, at)
        where k.at is not null and s.sent_at <= k.at
        order by s.enrolment_id, kind, s.sent_at desc
      )
      select st.id as step_id, st.position, st.subject, st.deleted_at is not null as deleted,
        (select count(*) from sent where step_id = st.id)::int as sent,
        (select count(*) from sent where step_id = st.id and delivered_at is not null)::int as delivered,
        (select count(*) from sent where step_id = st.id and first_opened_at is not null)::int as opened,
        (select count(*) from sent where step_id = st.id and first_clicked_at is not null)::int as clicked,
        (select count(*) from sent where step_id = st.id and bounced_at is not null)::int as bounced,
        (select count(*) from last_before where step_id = st.id and kind = 'reply')::int as replied,
        (select count(*) from last_before where step_id = st.id and kind = 'unsubscribe')::int as unsubscribed
      from steps st
      where st.sequence_id = ${sequenceId}
      order by st.position`),
  );
  const [enrolment] = rowsOf<{ enrolled: number; replied: number; bounced: number; unsubscribed: number }>(
    await db.execute(sql`
      select count(*)::int as enrolled,
        count(*) filter (where replied_at is not null)::int as replied,
        count(*) filter (where status = 'bounced')::int as bounced,
        count(*) filter (where status = 'unsubscribed')::int as unsubscribed
      from enrolments where sequence_id = ${sequenceId}`),
  );
  const sum = (key: keyof Counts) => perStep.reduce((n, s) => n + s[key], 0);
  const totals = withRates({
    sent: sum('sent'),
    delivered: sum('delivered'),
    opened: sum('opened'),
    clicked: sum('clicked'),
    replied: enrolment!.replied,
    bounced: enrolment!.bounced,
    unsubscribed: enrolment!.unsubscribed,
  });
  return {
    sequence: {
      enrolled: enrolment!.enrolled,
      ...totals,
      rates: { ...totals.rates, repliedPerEnrolment: ratio(enrolment!.replied, enrolment!.enrolled) },
    },
    steps: perStep.map(({ step_id, position, subject, deleted, ...counts }) => ({
      stepId: step_id,
      position,
      subject,
      deleted,
      ...withRates(counts),
    })),
  };
}

/** The statistics of one of the account's sequences (404 when it is not the account's). */
export async function statsOfSequence({ db }: { db: Db }, account: Account, sequenceId: string) {
  await findSequence(db, account, sequenceId);
  return sequenceStats(db, sequenceId);
}
