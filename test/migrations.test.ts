import { readdirSync, readFileSync } from 'node:fs';
import { inject, describe, expect, it, afterAll } from 'vitest';
import postgres from 'postgres';
import { openDatabase } from '../db/client.js';
import { senderConfirmationToken, tokenSenderId, verifySenderConfirmationToken } from '../domain/sender-confirmation-token.js';

const admin = postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} });
const name = `es_migrate_${Date.now()}_${process.pid}`;
const url = inject('adminDatabaseUrl').replace(/\/[^/]*$/, `/${name}`);

const upgraded = `${name}_up`;
const withSenders = `${name}_senders`;

/** Applies the migration files whose names sort before `before` (or the one given), statement by statement. */
function migrationFiles() {
  const folder = new URL('../db/migrations/', import.meta.url);
  const files = readdirSync(folder)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  return async (sql: postgres.Sql, pick: (file: string) => boolean) => {
    for (const file of files.filter(pick)) {
      for (const statement of readFileSync(new URL(file, folder), 'utf8').split('--> statement-breakpoint')) {
        if (statement.trim()) await sql.unsafe(statement);
      }
    }
  };
}

afterAll(async () => {
  await admin.unsafe(`drop database if exists ${withSenders} with (force)`);
  await admin.unsafe(`drop database if exists ${upgraded} with (force)`);
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
});

describe('migrations', () => {
  it('build the whole schema on an empty database, even when several processes start at once', async () => {
    await admin.unsafe(`create database ${name}`);
    const processes = await Promise.all([1, 2, 3].map(() => openDatabase({ url, dataDir: '.data', poolSize: 2 })));
    await Promise.all(processes.map((p) => p.migrate()));
    const sql = postgres(url, { max: 1 });
    const tables = await sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public' order by table_name`;
    expect(tables.map((t) => t.table_name)).toEqual([
      'accounts',
      'api_keys',
      'enrolment_batches',
      'enrolment_events',
      'enrolments',
      'inbound_corrections',
      'inbound_messages',
      'lead_events',
      'lead_unsubscriptions',
      'leads',
      'messages',
      'notifications',
      'one_off_emails',
      'senders',
      'sequence_enrolment_counts',
      'sequences',
      'step_variants',
      'steps',
      'test_emails',
      'variant_assignments',
      'webhook_events',
    ]);
    const [first] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
    await processes[0]!.migrate();
    const [again] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
    expect(again!.n).toBe(first!.n);
    await sql.end();
    await Promise.all(processes.map((p) => p.close()));
  });

  it('0006 keeps a cause for every lead unsubscribed before causes were kept: the email that asked, when its timeline names one', async () => {
    await admin.unsafe(`create database ${upgraded}`);
    const sql = postgres(url.replace(new RegExp(`/${name}$`), `/${upgraded}`), { max: 1, onnotice: () => {} });
    const folder = new URL('../db/migrations/', import.meta.url);
    const files = readdirSync(folder)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    const apply = async (file: string) => {
      for (const statement of readFileSync(new URL(file, folder), 'utf8').split('--> statement-breakpoint')) {
        if (statement.trim()) await sql.unsafe(statement);
      }
    };
    for (const file of files.filter((f) => f < '0006')) await apply(file);
    const [account] = await sql`insert into accounts (name) values ('a') returning id`;
    const [byEmail, byLink, _neverUnsubscribed] = await sql`
      insert into leads (account_id, email, unsubscribed_at) values
        (${account!.id}, 'mail@x.test', now()), (${account!.id}, 'link@x.test', now()), (${account!.id}, 'still@x.test', null)
      returning id`;
    const [sequence] = await sql`insert into sequences (account_id, name) values (${account!.id}, 's') returning id`;
    const inboundId = '11111111-2222-4333-8444-555555555555';
    for (const lead of [byEmail!, byLink!]) {
      const [enrolment] = await sql`
        insert into enrolments (account_id, sequence_id, lead_id, status, reply_token)
        values (${account!.id}, ${sequence!.id}, ${lead.id}, 'unsubscribed', ${lead.id})
        returning id`;
      const detail = lead === byEmail ? { source: 'reply', inboundId } : { source: 'link' };
      await sql`insert into enrolment_events (account_id, enrolment_id, type, detail)
        values (${account!.id}, ${enrolment!.id}, 'unsubscribe', ${sql.json(detail)})`;
    }
    await apply(files.find((f) => f.startsWith('0006'))!);
    const causes = await sql<{ lead_id: string; source: string; inbound_id: string | null }[]>`
      select lead_id, source, inbound_id from lead_unsubscriptions order by source`;
    expect(causes).toEqual([
      { lead_id: byLink!.id, source: 'before_causes_were_kept', inbound_id: null },
      { lead_id: byEmail!.id, source: 'reply', inbound_id: inboundId },
    ]);
    await sql.end();
  });

  it('0008 makes each account’s sender its first sender row, with the account’s id, and binds its live enrolments to it', async () => {
    await admin.unsafe(`create database ${withSenders}`);
    const sql = postgres(url.replace(new RegExp(`/${name}$`), `/${withSenders}`), { max: 1, onnotice: () => {} });
    const apply = migrationFiles();
    await apply(sql, (f) => f < '0008');
    const confirmedAt = new Date('2026-06-01T00:00:00Z');
    const [withSender] = await sql`
      insert into accounts (name, sender_name, sender_email, sender_email_confirmed_at, signature)
      values ('Acme', 'Sam Seller', 'sam@acme.test', ${confirmedAt}, 'Sam, Acme') returning id`;
    const [without] = await sql`insert into accounts (name) values ('Bare') returning id`;
    const [lead] = await sql`insert into leads (account_id, email) values (${withSender!.id}, 'l@x.test') returning id`;
    const [sequence] = await sql`insert into sequences (account_id, name) values (${withSender!.id}, 's') returning id`;
    const enrol = async (status: string) =>
      (
        await sql`insert into enrolments (account_id, sequence_id, lead_id, status, reply_token)
          values (${withSender!.id}, ${sequence!.id}, ${lead!.id}, ${status}, ${status}) returning id`
      )[0]!.id as string;
    const [live, ended] = [await enrol('active'), await enrol('completed')];
    await apply(sql, (f) => f >= '0008');

    const rows = await sql`select id, account_id, name, email, email_confirmed_at, signature from senders`;
    expect(rows).toEqual([
      {
        id: withSender!.id,
        account_id: withSender!.id,
        name: 'Sam Seller',
        email: 'sam@acme.test',
        email_confirmed_at: confirmedAt,
        signature: 'Sam, Acme',
      },
    ]);
    const defaults = await sql`select id, default_sender_id from accounts order by name`;
    expect(defaults).toEqual([
      { id: withSender!.id, default_sender_id: withSender!.id },
      { id: without!.id, default_sender_id: null },
    ]);
    const bound = await sql`select id, sender_id from enrolments`;
    expect(Object.fromEntries(bound.map((r) => [r.id, r.sender_id]))).toEqual({ [live]: withSender!.id, [ended]: null });
    // The old columns stay one release (processes of the previous one still read them), unread.
    const [legacy] = await sql`select sender_email from accounts where id = ${withSender!.id}`;
    expect(legacy!.sender_email).toBe('sam@acme.test');
    // A confirmation link sent before the change named the account's id, which the sender kept.
    const token = senderConfirmationToken('secret', withSender!.id, 'sam@acme.test', new Date());
    expect(tokenSenderId(token)).toBe(withSender!.id);
    expect(verifySenderConfirmationToken('secret', token, rows[0]!.email, new Date())).toBe('valid');
    await sql.end();
  });
});
