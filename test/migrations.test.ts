import { inject, describe, expect, it, afterAll } from 'vitest';
import postgres from 'postgres';
import { openDatabase } from '../db/client.js';

const admin = postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} });
const name = `es_migrate_${Date.now()}_${process.pid}`;
const url = inject('adminDatabaseUrl').replace(/\/[^/]*$/, `/${name}`);

afterAll(async () => {
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
      'inbound_messages',
      'lead_events',
      'leads',
      'messages',
      'notifications',
      'one_off_emails',
      'sequences',
      'steps',
      'test_emails',
      'webhook_events',
    ]);
    const [first] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
    await processes[0]!.migrate();
    const [again] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
    expect(again!.n).toBe(first!.n);
    await sql.end();
    await Promise.all(processes.map((p) => p.close()));
  });
});
