import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Config } from '../../config.js';

/** A port nobody listens on now (for a process that must come back on the same one). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The production API (`server.ts`) as a real child process, so a test can kill -9 it in the
 * middle of a request and start another, as an orchestrator would.
 */
export async function spawnApi(
  config: Config,
  extraEnv: Record<string, string> = {},
): Promise<{ child: ChildProcess; baseUrl: string; ready: Promise<void>; exited: Promise<number | null>; output(): string }> {
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: config.DATABASE_URL!,
    TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS!,
    TEMPORAL_TASK_QUEUE: config.TEMPORAL_TASK_QUEUE,
    UNSUBSCRIBE_SECRET: config.UNSUBSCRIBE_SECRET,
    PUBLIC_BASE_URL: config.PUBLIC_BASE_URL,
    API_RATE_LIMIT_PER_MINUTE: String(config.API_RATE_LIMIT_PER_MINUTE),
    ...(config.RESEND_API_KEY ? { RESEND_API_KEY: config.RESEND_API_KEY } : {}),
    ...(config.RESEND_BASE_URL ? { RESEND_BASE_URL: config.RESEND_BASE_URL } : {}),
    ...extraEnv,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'server.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // Request logs are many; only the tail matters for a failure message.
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      if (output.includes('API listening')) resolve();
    });
    child.stderr!.on('data', keep);
    child.once('exit', (code) => reject(new Error(`API exited (${code}) before listening:\n${output.slice(-2000)}`)));
  });
  ready.catch(() => {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, baseUrl: `http://127.0.0.1:${port}`, ready, exited, output: () => output };
}
