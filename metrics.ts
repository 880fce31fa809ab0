import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { asyncLocalStorage as activityContext } from '@temporalio/activity';
import { sql } from 'drizzle-orm';
import { rowsOf, type Db } from './db/client.js';

/**
 * Prometheus metrics of this process. The API serves them at /metrics; a worker process serves
 * them on METRICS_PORT. The Temporal SDK's own worker metrics come from its exporter
 * (TEMPORAL_METRICS_PORT) and are appended to /metrics when the worker runs in the same process.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const httpDuration = new Histogram({
  name: 'sequences_http_request_duration_seconds',
  help: 'HTTP request duration by route and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const databaseStatements = new Counter({
  name: 'sequences_db_statements_total',
  help: 'Statements sent to PostgreSQL, each a round trip (BEGIN and COMMIT of a transaction included), by the activity that sent them (none: the API, the rest, and the driver setting up a new connection)',
  labelNames: ['activity'] as const,
  registers: [registry],
});

// postgres.js reads the array types on each new connection of its pool, before the first
// statement it runs there: a pool's cost, not the activity's that happened to open it (which made
// an activity's count depend on which connection it was given).
const CONNECTION_SETUP = /^\s*select b\.oid, b\.typarray\b/;

/** Counts one statement against the activity running it, if any: which activity costs the database what. */
export function countDatabaseStatement(statement = ''): void {
  const activity = CONNECTION_SETUP.test(statement) ? undefined : activityContext.getStore()?.info.activityType;
  databaseStatements.inc({ activity: activity ?? 'none' });
}

export const emailsSent = new Counter({
  name: 'sequences_emails_sent_total',
  help: 'Emails accepted by the provider, by kind (step, one_off, forward)',
  labelNames: ['kind'] as const,
  registers: [registry],
});

/**
 * Step emails that could have been stored in one guarded statement but whose context changed
 * between the read and the store (or that an overlapping attempt stored first): the locked
 * transaction decided them. Near zero in a healthy system; a steady rate means contention that
 * costs round trips (bench/README.md).
 */
export const emailStoreFallbacks = new Counter({
  name: 'sequences_email_store_fallbacks_total',
  help: 'Step emails whose one-statement store found their context changed, decided again under the lock',
  registers: [registry],
});

export const emailsFailed = new Counter({
  name: 'sequences_emails_failed_total',
  help: 'Emails not sent, by reason (rejected, postponed, retry)',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const webhookEventsTotal = new Counter({
  name: 'sequences_webhook_events_total',
  help: 'Provider webhook events received, by type and result',
  labelNames: ['type', 'result'] as const,
  registers: [registry],
});

/** Enrolments by status, read from PostgreSQL when scraped. One process per deployment should own it. */
export function registerEnrolmentGauge(db: Db): void {
  if (registry.getSingleMetric('sequences_enrolments')) return;
  new Gauge({
    name: 'sequences_enrolments',
    help: 'Enrolments by status (all accounts)',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const rows = rowsOf<{ status: string; n: number }>(
        await db.execute(sql`select status, count(*)::int as n from enrolments group by status`),
      );
      this.reset();
      for (const row of rows) this.set({ status: row.status }, row.n);
    },
  });
}

/** Our metrics, plus the Temporal SDK's when its exporter runs in this process. */
export async function metricsText(temporalMetricsPort?: number): Promise<string> {
  let text = await registry.metrics();
  if (temporalMetricsPort) {
    try {
      const response = await fetch(`http://127.0.0.1:${temporalMetricsPort}/metrics`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) text += `\n${await response.text()}`;
    } catch {
      // The SDK exporter is down or not started: our own metrics still answer.
    }
  }
  return text;
}
