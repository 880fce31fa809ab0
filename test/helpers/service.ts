import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { mailerFor } from '../../activities/index.js';
import type { Mailer } from '../../activities/mailer.js';
import { createApp } from '../../api/app.js';
import { loadConfig, type Config } from '../../config.js';
import { createAccount } from '../../db/accounts.js';
import { openDatabase, type Database } from '../../db/client.js';
import { createLogger, type Logger } from '../../logger.js';
import { countDatabaseStatement } from '../../metrics.js';
import { installTemporalLogging } from '../../temporal/runtime.js';
import { createEnrolmentWorkers, type EnrolmentWorkers } from '../../temporal/worker.js';
import { createDatabaseFromTemplate } from './database.js';
import { startResendSink, type ResendSink } from './resend-sink.js';

/**
 * The real service for a test file: API on a random port, a worker on its own task queue (so
 * test files never take each other's tasks), both on the run's PostgreSQL database and Temporal
 * dev server.
 */
export interface TestService {
  baseUrl: string;
  config: Config;
  database: Database;
  temporal: Client;
  workers: EnrolmentWorkers;
  /** Resolves when the worker has fully stopped. */
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  stop(): Promise<void>;
}

export const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const defaultLogger = logger;
installTemporalLogging(logger);

let fileDatabase: Promise<string> | undefined;

/**
 * This test file's own PostgreSQL database, a copy of the run's migrated template made on first
 * use (vitest runs each file in a process of its own). Files run side by side, and some of what
 * the service does reads a whole database: the pending-start sweep starts every enrolment that
 * has no workflow yet, so on a shared database one file's sweep would start another's.
 */
export function testDatabaseUrl(): Promise<string> {
  return (fileDatabase ??= (async () => {
    const { inject } = await import('vitest');
    const adminUrl = inject('adminDatabaseUrl');
    const template = new URL(inject('templateDatabaseUrl')).pathname.slice(1);
    const name = `${template.replace(/_template$/, '')}_f${process.pid}_${randomBytes(3).toString('hex')}`;
    const { default: postgres } = await import('postgres');
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    try {
      await createDatabaseFromTemplate(admin, name, template);
    } finally {
      await admin.end();
    }
    return adminUrl.replace(/\/[^/]*$/, `/${name}`);
  })());
}

/** Config for a test file: its own database, the run's dev server, its own task queue. */
export async function testConfig(overrides: Record<string, string> = {}): Promise<Config> {
  // Imported here so benchmarks can use this module outside vitest.
  const { inject } = await import('vitest');
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: 'DATABASE_URL' in overrides ? overrides.DATABASE_URL : await testDatabaseUrl(),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    UNSUBSCRIBE_SECRET: 'test-unsubscribe-secret-0123456789abcdef',
    PUBLIC_BASE_URL: 'https://sequences.test',
    // Specifications and the fuzzer send far more than a portal would; test/rate-limit.test.ts
    // turns the limit on.
    API_RATE_LIMIT_PER_MINUTE: '0',
    // Likewise for the per-IP limits of the public endpoints; test/public-rate-limit.test.ts turns them on.
    UNSUBSCRIBE_RATE_LIMIT_PER_MINUTE: '0',
    WEBHOOK_RATE_LIMIT_PER_MINUTE: '0',
    // Test portals listen on 127.0.0.1; test/ssrf.test.ts turns this off.
    PORTAL_WEBHOOK_ALLOW_PRIVATE: 'true',
    ...overrides,
  });
}

export interface StartServiceOptions {
  config?: Config;
  mailer?: Mailer;
  withWorker?: boolean;
  /** PostgreSQL connections of this process (default 40); test files running side by side share the server's limit. */
  poolSize?: number;
  /** Where this service's logs go (default: silent unless TEST_LOG_LEVEL). */
  logger?: Logger;
  /** Workflow code bundled once; defaults to the test run's bundle. */
  workflowBundleCode?: string;
  /** A time-skipping environment's client and connection instead of the dev server. */
  temporal?: { client: Client; nativeConnection: NativeConnection };
}

export async function startService(options: StartServiceOptions = {}): Promise<TestService> {
  const config = options.config ?? (await testConfig());
  const logger = options.logger ?? defaultLogger;
  const database = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolSize: options.poolSize ?? 40,
    onQuery: countDatabaseStatement,
  });
  await database.migrate();
  const connection = options.temporal ? undefined : await Connection.connect({ address: config.TEMPORAL_ADDRESS! });
  const temporal = options.temporal?.client ?? new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const mailer = options.mailer ?? mailerFor(config, logger);
  const app = createApp({ config, database, temporal, logger, mailer });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const deps = { db: database.db, mailer, config, logger, temporal };
  let running: { workers: EnrolmentWorkers; done: Promise<void>; close(): Promise<void> } | undefined;
  const service: TestService = {
    baseUrl,
    config,
    database,
    temporal,
    get workers() {
      return running!.workers;
    },
    async startWorker() {
      const { readFileSync } = await import('node:fs');
      const workers = await createEnrolmentWorkers({
        connection: options.temporal?.nativeConnection,
        address: config.TEMPORAL_ADDRESS!,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        deps,
        workflowBundle: { code: options.workflowBundleCode ?? readFileSync((await import('vitest')).inject('workflowBundlePath'), 'utf8') },
        sendRatePerSecond: config.SEND_RATE_PER_SECOND,
      });
      const done = workers.run();
      running = { workers, done, close: async () => (options.temporal ? undefined : workers.connection.close()) };
    },
    async stopWorker() {
      if (!running) return;
      running.workers.shutdown();
      await running.done;
      await running.close();
      running = undefined;
    },
    async stop() {
      await service.stopWorker();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await connection?.close();
      await database.close();
    },
  };
  if (options.withWorker !== false) await service.startWorker();
  return service;
}

export interface ServiceWithSink {
  service: TestService;
  sink: ResendSink;
  /** Stops the service, then the sink; safe to call whatever was started. */
  stop(): Promise<void>;
}

/**
 * The preamble of most test files in one call: a Resend-compatible sink, and the service sending
 * through it (`RESEND_API_KEY` and `RESEND_BASE_URL` point at the sink). `env` adds or overrides
 * configuration (a webhook secret, a proxied `DATABASE_URL`…); the other options are
 * `startService`'s. If the service fails to start, the sink is closed before the error is thrown.
 */
export async function startServiceWithSink(
  options: Omit<StartServiceOptions, 'config'> & { env?: Record<string, string> } = {},
): Promise<ServiceWithSink> {
  const { env, ...serviceOptions } = options;
  const sink = await startResendSink();
  let service: TestService;
  try {
    const config = await testConfig({ RESEND_API_KEY: sink.apiKey, RESEND_BASE_URL: sink.url, ...env });
    service = await startService({ ...serviceOptions, config });
  } catch (error) {
    await sink.close();
    throw error;
  }
  return {
    service,
    sink,
    async stop() {
      try {
        await service.stop();
      } finally {
        await sink.close();
      }
    },
  };
}

/** The account's default sender, as tests give it: the API's own account fields of the same names. */
interface DefaultSenderValues {
  senderName?: string;
  senderEmail?: string | null;
  senderEmailConfirmedAt?: Date | null;
  signature?: string;
}

/**
 * A fresh account (with its API key) per test: tests never see each other's data. It has a
 * default sender (Sam Seller, unless `senderName`, `senderEmail`… say otherwise), whose fields the
 * account answered carries as the API's account does.
 */
export async function createTestAccount(
  service: TestService,
  values: Parameters<typeof createAccount>[1] & DefaultSenderValues = { name: 'Test account' },
) {
  const { senderName, senderEmail, senderEmailConfirmedAt, signature, ...accountValues } = values;
  const created = await createAccount(service.database.db, {
    // An account enrols only with a postal address (CAN-SPAM): tests get one unless they say otherwise.
    postalAddress: '1 Test Street, Testville',
    ...accountValues,
    sender: {
      name: senderName ?? 'Sam Seller',
      email: senderEmail?.toLowerCase() ?? null,
      emailConfirmedAt: senderEmailConfirmedAt ?? null,
      signature: signature ?? '',
    },
  });
  const sender = created.sender!;
  return {
    ...created,
    sender,
    account: {
      ...created.account,
      senderName: sender.name,
      senderEmail: sender.email,
      senderEmailConfirmedAt: sender.emailConfirmedAt,
      signature: sender.signature,
    },
  };
}

/** Small JSON client for the API under test. */
export function apiClient(baseUrl: string, apiKey?: string) {
  return async function call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let json: T;
    try {
      json = text ? JSON.parse(text) : (undefined as T);
    } catch {
      json = text as T;
    }
    return { status: response.status, body: json, headers: response.headers };
  };
}

export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
  throw new Error(`timed out waiting for ${options.what ?? 'condition'}${last ? `: ${(last as Error).message}` : ''}`);
}
