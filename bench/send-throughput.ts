import { createAccount } from '../db/accounts.js';
import { apiClient, eventually } from '../test/helpers/service.js';
import { startBenchEnvironment } from './environment.js';

/**
 * Emails per second from "due" to "at the provider": N enrolments of a one-step sequence with no
 * delay, timed from the bulk enrolment until the sink holds all N. Run with and without a rate.
 *   npx tsx bench/send-throughput.ts [N] [rate]
 */
const N = Number(process.argv[2] ?? 1000);
const rate = process.argv[3];
const env = await startBenchEnvironment();
try {
  const service = await env.service(rate ? { SEND_RATE_PER_SECOND: rate } : {});
  const { apiKey } = await createAccount(service.database.db, { name: 'Bench', senderName: 'Bench' });
  const api = apiClient(service.baseUrl, apiKey);
  const sequence = await api('POST', '/v1/sequences', { name: 'Bench', steps: [{ subject: 'Hi {{ first_name | default: "there" }}', body: 'Hello', delay: { amount: 0, unit: 'minutes' } }] });
  const imported = await api('POST', '/v1/leads/import', { leads: Array.from({ length: N }, (_, i) => ({ email: `send-${i}@bench.test` })) });
  const leadIds = imported.body.results.map((r: { id: string }) => r.id);
  const started = Date.now();
  await api('POST', `/v1/sequences/${sequence.body.id}/enrolments/bulk`, { leadIds });
  await eventually(async () => env.sink.emails.length >= N, { timeoutMs: 30 * 60_000, intervalMs: 200, what: `${N} emails` });
  const times = env.sink.emails.map((e) => e.receivedAt).sort((a, b) => a - b);
  const total = (times.at(-1)! - started) / 1000;
  const steady = (times.at(-1)! - times[0]!) / 1000;
  console.log(
    JSON.stringify({ emails: N, rateLimit: rate ? Number(rate) : null, secondsFromEnrolment: total, emailsPerSecondOverall: +(N / total).toFixed(1), emailsPerSecondFirstToLast: +((N - 1) / steady).toFixed(1), duplicates: env.sink.emails.length - new Set(env.sink.emails.map((e) => e.idempotencyKey)).size }),
  );
} finally {
  await env.close();
}
process.exit(0);
