import { randomUUID } from 'node:crypto';
import { bundleWorkflowCode } from '@temporalio/worker';
import postgres from 'postgres';
import { loadConfig, type Config } from '../config.js';
import { openDatabase } from '../db/client.js';
import { startDevServer, type DevServer } from '../temporal/dev-server.js';
import { workflowsPath } from '../temporal/worker.js';
import { startResendSink, type ResendSink } from '../test/helpers/resend-sink.js';
import { startService, type TestService } from '../test/helpers/service.js';

/**
 * What every benchmark runs on: a fresh PostgreSQL database on the machine's server, a fresh
 * Temporal dev server, the Resend-compatible sink, and the service (API and workers) in this
 * process, exactly as the tests run it.
 */
export interface BenchEnvironment {
  devServer: DevServer;
  databaseUrl: string;
  bundleCode: string;
  sink: ResendSink;
  service(overrides?: Record<string, string>): Promise<TestService>;
  close(): Promise<void>;
}

const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };

export async function startBenchEnvironment(): Promise<BenchEnvironment> {
  const dbName = `es_bench_${Date.now()}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const databaseUrl = ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`);
  const database = await openDatabase({ url: databaseUrl, dataDir: '.data' });
  await database.migrate();
  await database.close();
  const [devServer, bundle, sink] = await Promise.all([
    startDevServer({}),
    bundleWorkflowCode({ workflowsPath, logger: silent }),
    startResendSink(),
  ]);
  const services: TestService[] = [];
  return {
    devServer,
    databaseUrl,
    bundleCode: bundle.code,
    sink,
    async service(overrides = {}) {
      const config: Config = loadConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATABASE_URL: databaseUrl,
        TEMPORAL_ADDRESS: devServer.address,
        TEMPORAL_TASK_QUEUE: `bench-${randomUUID()}`,
        RESEND_API_KEY: sink.apiKey,
        RESEND_BASE_URL: sink.url,
        UNSUBSCRIBE_SECRET: 'bench-unsubscribe-secret-0123456789abcdef',
        PUBLIC_BASE_URL: 'https://sequences.bench',
        ...overrides,
      });
      const service = await startService({ config, workflowBundleCode: bundle.code });
      services.push(service);
      return service;
    },
    async close() {
      for (const s of services.splice(0)) await s.stop();
      await sink.close();
      await devServer.stop();
      await admin.unsafe(`drop database if exists ${dbName} with (force)`);
      await admin.end();
    },
  };
}
