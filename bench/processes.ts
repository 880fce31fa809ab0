import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createAccount } from '../db/accounts.js';
import { openDatabase } from '../db/client.js';
import { freePort } from '../test/helpers/api-process.js';
import { apiClient } from '../test/helpers/service.js';
import type { BenchEnvironment } from './environment.js';

/**
 * The production entry points (worker.ts, server.ts) as child processes, so their memory can be
 * read on their own, as an operator would see it.
 */
export interface ChildService {
  pid: number;
  /** Resident set size in MiB, from /proc. */
  rssMiB(): number;
  /** The last lines the process wrote, to explain a failure. */
  output(): string;
  stop(): Promise<void>;
}

export async function spawnChild(script: 'worker.ts' | 'server.ts', env: Record<string, string>, readyText: string): Promise<ChildService> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...(process.env as Record<string, string>), LOG_LEVEL: 'info', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready in 120 s:\n${output.slice(-2000)}`)), 120_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (output.includes(readyText)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}):\n${output.slice(-2000)}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid!,
    rssMiB() {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
      return Math.round(kb / 1024);
    },
    output: () => output.slice(-4000),
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The production entry points against a bench environment, with a fresh account's API client. */
export async function productionProcesses(
  env: BenchEnvironment,
  which: ('worker.ts' | 'server.ts')[],
  existing?: { apiKey: string; taskQueue: string },
  /** More settings for the children (e.g. the API's own rate limit, off by default here). */
  extraEnv: Record<string, string> = {},
) {
  const config = env.config({ NODE_ENV: 'production', ...(existing ? { TEMPORAL_TASK_QUEUE: existing.taskQueue } : {}) });
  const port = await freePort();
  const childEnv = {
    NODE_ENV: 'production',
    DATABASE_URL: config.DATABASE_URL!,
    TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS!,
    TEMPORAL_TASK_QUEUE: config.TEMPORAL_TASK_QUEUE,
    RESEND_API_KEY: config.RESEND_API_KEY!,
    RESEND_BASE_URL: config.RESEND_BASE_URL!,
    UNSUBSCRIBE_SECRET: config.UNSUBSCRIBE_SECRET,
    PUBLIC_BASE_URL: config.PUBLIC_BASE_URL!,
    API_RATE_LIMIT_PER_MINUTE: '0',
    PORT: String(port),
    HOST: '127.0.0.1',
    ...extraEnv,
  };
  const children = await Promise.all(
    which.map((script) => spawnChild(script, childEnv, script === 'worker.ts' ? 'worker running' : 'API listening')),
  );
  let apiKey = existing?.apiKey;
  if (!apiKey) {
    const database = await openDatabase({ url: config.DATABASE_URL, dataDir: '.data' });
    apiKey = (await createAccount(database.db, { name: 'Bench', postalAddress: '1 Bench Street', sender: { name: 'Bench' } })).apiKey;
    await database.close();
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    config,
    baseUrl,
    apiKey,
    api: apiClient(baseUrl, apiKey),
    child: (script: 'worker.ts' | 'server.ts') => children[which.indexOf(script)]!,
    stop: () => Promise.all(children.map((c) => c.stop().catch(() => {}))),
  };
}
