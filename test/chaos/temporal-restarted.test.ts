import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../../temporal/dev-server.js';
import { freePort } from '../helpers/api-process.js';
import {
  assertExactlyOnce,
  chaosSize,
  enrolAll,
  importLeads,
  recordFigures,
  sequenceEmails,
  waitForEnrolments,
  whileAlive,
} from '../helpers/chaos.js';
import { asNewAccount } from '../helpers/fixtures.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import type { ResendSink } from '../helpers/resend-sink.js';
import { eq } from 'drizzle-orm';
import { enrolments } from '../../db/schema.js';
import { startPendingEnrolments } from '../../api/services/workflow-starter.js';
import { eventually, startService, startServiceWithSink, type ServiceWithSink, type TestService } from '../helpers/service.js';
import { spawnWorker } from '../helpers/worker-process.js';

const LEADS = chaosSize(100, 500);
const STEPS = 2;
const DOWN_MS = chaosSize(5_000, 15_000);

let started: ServiceWithSink | undefined;
let sink: ResendSink;
let service: TestService;
let temporalServer: DevServer | undefined;
let dataDir: string;
let port: number;
let worker: ReturnType<typeof spawnWorker> | undefined;

// A server of its own, persisted to a file, so stopping it touches no other test file.
const startTemporal = () => startDevServer({ dbFile: path.join(dataDir, 'temporal.db'), port });

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'es-chaos-temporal-'));
  port = await freePort();
  temporalServer = await startTemporal();
  ({ service, sink } = started = await startServiceWithSink({
    poolSize: 10,
    env: { TEMPORAL_ADDRESS: temporalServer.address },
    withWorker: false,
  }));
}, 180_000);
afterAll(async () => {
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  await worker?.exited;
  await started?.stop();
  await temporalServer?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

describe(`the Temporal server restarted (same database file) in the middle of ${LEADS * STEPS} sends`, () => {
  it('resumes every enrolment where it was: exactly one email per lead and step, none lost, none doubled', async () => {
    const started = Date.now();
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({ steps: [{ subject: 'First' }, { subject: 'Second' }] });
    const leadIds = await importLeads(fixture, LEADS, `temporal-restart-${sequence.id}`);
    worker = spawnWorker(service.config);
    await worker.ready;
    await enrolAll(fixture, sequence.id, leadIds);

    await eventually(async () => sequenceEmails(sink, sequence.id).length >= (LEADS * STEPS) / 4, {
      timeoutMs: 120_000,
      intervalMs: 20,
      what: 'a quarter of the sends',
    });
    await temporalServer!.stop();
    temporalServer = undefined;
    const atStop = sequenceEmails(sink, sequence.id).length;
    expect(atStop, 'the server stopped before the run ended').toBeLessThan(LEADS * STEPS);
    await new Promise((r) => setTimeout(r, DOWN_MS));
    temporalServer = await startTemporal();
    const downSeconds = Math.round((Date.now() - started) / 1000);

    await whileAlive(
      worker,
      'the worker',
      waitForEnrolments(service.database.db, sequence.id, 'completed', LEADS, chaosSize(300_000, 600_000)),
    );
    // The worker rode out the outage: it reconnected instead of dying.
    expect(worker.child.exitCode).toBeNull();
    const figures = await assertExactlyOnce({
      sink,
      db: service.database.db,
      sequenceId: sequence.id,
      leads: LEADS,
      steps: STEPS,
      temporal: service.temporal,
    });
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    recordFigures('Temporal dev server restart', {
      ...figures,
      atStop,
      downMs: DOWN_MS,
      restartedAtSecond: downSeconds,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  }, 900_000);
});

describe('a bulk enrolment while the Temporal server cannot be reached', () => {
  it('answers 200 with the enrolments committed, and the sweeper starts them once it can', async () => {
    // An API whose Temporal connection goes through a proxy the test cuts; the worker connects
    // directly and runs the workflows once they start.
    const [host, temporalPort] = temporalServer!.address.split(':');
    const proxy = await startTcpProxy({ host: host === 'localhost' ? '127.0.0.1' : host!, port: Number(temporalPort) });
    const api = await startService({
      poolSize: 5,
      config: { ...service.config, TEMPORAL_ADDRESS: `127.0.0.1:${proxy.port}` },
      withWorker: false,
    });
    try {
      const fixture = await asNewAccount(api);
      const sequence = await fixture.createSequence({ steps: [{ subject: 'Only' }] });
      const leadIds = await importLeads(fixture, 5, `temporal-unreachable-${sequence.id}`);
      worker = spawnWorker(service.config); // the test above stopped its worker
      await worker.ready;
      await proxy.close();
      // Every workflow start fails here; the rows are committed all the same.
      await enrolAll(fixture, sequence.id, leadIds);
      const rows = await api.database.db.select().from(enrolments).where(eq(enrolments.sequenceId, sequence.id));
      expect(rows.map((r) => [r.status, r.workflowStartedAt])).toEqual(Array(5).fill(['active', null]));
      await proxy.open();
      // As the sweeper does every 15 s: until the client has reconnected, a sweep starts nothing.
      const sweep = () => startPendingEnrolments({ db: api.database.db, temporal: api.temporal, config: api.config }, 0);
      expect(await eventually(sweep, { timeoutMs: 60_000, intervalMs: 1_000, what: 'a sweep that starts the five' })).toBe(5);
      await whileAlive(worker, 'the worker', waitForEnrolments(api.database.db, sequence.id, 'completed', 5, 120_000));
      await assertExactlyOnce({ sink, db: api.database.db, sequenceId: sequence.id, leads: 5, steps: 1, temporal: service.temporal });
    } finally {
      await api.stop();
      await proxy.close();
    }
  }, 300_000);
});
