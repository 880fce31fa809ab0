import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import postgres from 'postgres';
import { loadConfig, type Config } from '../config.js';
import { createAccount } from '../db/accounts.js';
import { openDatabase } from '../db/client.js';
import { startDevServer, type DevServer } from '../temporal/dev-server.js';
import { workflowsPath } from '../temporal/worker.js';
import { startResendSink, type ResendSink } from '../test/helpers/resend-sink.js';
import { apiClient, startService, type TestService } from '../test/helpers/service.js';

/**
 * What every measurement runs on: a fresh PostgreSQL database on the machine's server, a fresh
 * Temporal dev server, the Resend-compatible sink, and either the service (API and workers, as
 * the tests run it) or a raw worker running the baseline workflows of raw-workflows.ts. Each
 * side of each run gets its own environment, so one never inherits the other's backlog.
 */
export interface BenchEnvironment {
  devServer: DevServer;
  databaseUrl: string;
  sink: ResendSink;
  sql: postgres.Sql;
  /** Config the service would run with here (for child processes too). */
  config(overrides?: Record<string, string>): Config;
  service(overrides?: Record<string, string>): Promise<BenchService>;
  rawWorker(activities: Record<string, (...args: never[]) => Promise<unknown>>): Promise<RawWorker>;
  close(): Promise<void>;
}

export interface BenchService extends TestService {
  apiKey: string;
  api: ReturnType<typeof apiClient>;
}

export interface RawWorker {
  client: Client;
  taskQueue: string;
  close(): Promise<void>;
}

const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };

let bundles: Promise<{ service: string; raw: string }> | undefined;
/** Bundled once per process: bundling costs seconds and is not what we measure. */
function workflowBundles() {
  bundles ??= Promise.all([
    bundleWorkflowCode({ workflowsPath, logger: silent }),
    bundleWorkflowCode({ workflowsPath: new URL('./raw-workflows.ts', import.meta.url).pathname, logger: silent }),
  ]).then(([service, raw]) => ({ service: service.code, raw: raw.code }));
  return bundles;
}

/**
 * `temporalOnDisk`: the dev server keeps its SQLite database in a file instead of memory. The
 * in-memory one grew to 4 GB and crashed (SIGSEGV inside SQLite) at 84,000 enrolments, so the
 * 100,000-enrolment footprint runs on a file (in /dev/shm where there is one).
 */
export async function startBenchEnvironment(options: { temporalOnDisk?: boolean } = {}): Promise<BenchEnvironment> {
  const code = await workflowBundles();
  const dbName = `es_bench_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const databaseUrl = ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`);
  const database = await openDatabase({ url: databaseUrl, dataDir: '.data' });
  await database.migrate();
  await database.close();
  const sql = postgres(databaseUrl, { max: 4, onnotice: () => {} });
  // A file in tmpfs where there is one: SQLite on a real disk spends the run waiting on fsync
  // (20% I/O wait, planning at ~3 enrolments/s), and memory-backed files skip that.
  const fileRoot = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const temporalDir = options.temporalOnDisk ? mkdtempSync(path.join(fileRoot, 'es-bench-temporal-')) : undefined;
  const [devServer, sink] = await Promise.all([
    startDevServer(temporalDir ? { dbFile: path.join(temporalDir, 'temporal.db') } : {}),
    startResendSink(),
  ]);
  const closers: (() => Promise<void>)[] = [];
  const config = (overrides: Record<string, string> = {}): Config =>
    loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: devServer.address,
      TEMPORAL_TASK_QUEUE: `bench-${randomUUID()}`,
      RESEND_API_KEY: sink.apiKey,
      RESEND_BASE_URL: sink.url,
      UNSUBSCRIBE_SECRET: 'bench-unsubscribe-secret-0123456789abcdef',
      PUBLIC_BASE_URL: 'https://sequences.bench',
      API_RATE_LIMIT_PER_MINUTE: '0',
      ...overrides,
    });
  return {
    devServer,
    databaseUrl,
    sink,
    sql,
    config,
    async service(overrides = {}) {
      const service = await startService({ config: config(overrides), workflowBundleCode: code.service });
      closers.push(() => service.stop());
      const { apiKey } = await createAccount(service.database.db, {
        name: 'Bench',
        postalAddress: '1 Bench Street',
        sender: { name: 'Bench' },
      });
      return Object.assign(service, { apiKey, api: apiClient(service.baseUrl, apiKey) });
    },
    async rawWorker(activities) {
      const taskQueue = `raw-${randomUUID()}`;
      const connection = await NativeConnection.connect({ address: devServer.address });
      const worker = await Worker.create({
        connection,
        taskQueue,
        activities,
        workflowBundle: { code: code.raw },
        // The same worker tuning as temporal/worker.ts, so only the workflow differs.
        maxCachedWorkflows: 2_000,
        maxConcurrentWorkflowTaskExecutions: 120,
        maxConcurrentWorkflowTaskPolls: 40,
        maxConcurrentLocalActivityExecutions: 200,
        maxConcurrentActivityTaskExecutions: 100,
        maxConcurrentActivityTaskPolls: 20,
      });
      const running = worker.run();
      const clientConnection = await Connection.connect({ address: devServer.address });
      const close = async () => {
        worker.shutdown();
        await running;
        await connection.close();
        await clientConnection.close();
      };
      closers.push(close);
      return { client: new Client({ connection: clientConnection }), taskQueue, close };
    },
    async close() {
      for (const close of closers.splice(0).reverse()) await close().catch(() => {});
      await sql.end();
      await sink.close();
      await devServer.stop();
      if (temporalDir) rmSync(temporalDir, { recursive: true, force: true });
      await admin.unsafe(`drop database if exists ${dbName} with (force)`);
      await admin.end();
    },
  };
}
