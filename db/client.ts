import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Query, type SQL } from 'drizzle-orm';
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** What `db.transaction` hands its callback: a Db for the statements of one transaction. */
export type Transaction = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Rows of a raw `db.execute(sql…)`: postgres-js answers an array, PGlite `{ rows }`. */
export function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows?: T[] }).rows ?? []);
}

const dialect = new PgDialect();

/** A statement's SQL built once (with `sql.placeholder`s for its values), for `executeNamed`. */
export const buildOnce = (statement: SQL): Query => dialect.sqlToQuery(statement);

/**
 * Runs a statement as a named (prepared) one, so PostgreSQL plans it once per connection and not
 * on every call: for the worker's hot statements, whose planning cost more than running them
 * (bench/README.md). Through drizzle's own step between a built query and its driver, on
 * whichever session `db` is (a transaction's too). Rows come as objects keyed by column name.
 */
export async function executeNamed<T>(db: Db, statement: SQL | Query, values: Record<string, unknown> = {}): Promise<T[]> {
  const query = 'sql' in statement && typeof statement.sql === 'string' ? (statement as Query) : buildOnce(statement as SQL);
  return rowsOf<T>(await db._.session.prepareQuery(query, undefined, 'named', false).execute(values));
}

export interface Database {
  db: Db;
  /** `postgres` for a server (DATABASE_URL), `pglite` for the embedded one under DATA_DIR. */
  driver: 'postgres' | 'pglite';
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const migrationsFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Any number of processes may start at once; the advisory lock lets exactly one migrate. */
const MIGRATION_LOCK = 724_113_001;

export async function openDatabase(options: {
  url?: string;
  dataDir: string;
  poolSize?: number;
  /** Called for every statement sent to PostgreSQL (a round trip), with its text: the statements metric counts them. */
  onQuery?: (statement: string) => void;
}): Promise<Database> {
  if (options.url) {
    const { default: postgres } = await import('postgres');
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const { migrate } = await import('drizzle-orm/postgres-js/migrator');
    const client = postgres(options.url, {
      max: options.poolSize ?? 20,
      onnotice: () => {},
      connect_timeout: 5,
      idle_timeout: 30,
      ...(options.onQuery ? { debug: (_connection: number, statement: string) => options.onQuery!(statement) } : {}),
    });
    const db = drizzle(client, { schema });
    return {
      db: db as unknown as Db,
      driver: 'postgres',
      async migrate() {
        // One connection, so the session-level lock covers every statement of the migration.
        const single = postgres(options.url!, { max: 1, onnotice: () => {}, connect_timeout: 5 });
        try {
          await single`select pg_advisory_lock(${MIGRATION_LOCK})`;
          await migrate(drizzle(single, { schema }), { migrationsFolder });
        } finally {
          await single.end({ timeout: 5 });
        }
      },
      async ping() {
        await db.execute(sql`select 1`);
      },
      async close() {
        await client.end({ timeout: 5 });
      },
    };
  }

  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  const dir = path.resolve(options.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const client = new PGlite(dir);
  // PGlite has no driver hook for each statement: drizzle's logger sees the statements drizzle
  // sends (not the BEGIN/COMMIT of its transactions, which the postgres driver's hook counts).
  const onQuery = options.onQuery;
  const db = drizzle(client, { schema, ...(onQuery ? { logger: { logQuery: (statement: string) => onQuery(statement) } } : {}) });
  return {
    db: db as unknown as Db,
    driver: 'pglite',
    migrate: () => migrate(db, { migrationsFolder }),
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      await client.close();
    },
  };
}
