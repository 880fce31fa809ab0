import { spawn, type ChildProcess } from 'node:child_process';
import type { Config } from '../../config.js';

/**
 * The production worker (`worker.ts`) as a real child process, so a test can kill -9 it at the
 * worst moment and start another.
 */
export function spawnWorker(
  config: Config,
  extraEnv: Record<string, string> = {},
): { child: ChildProcess; ready: Promise<void>; exited: Promise<number | null>; output(): string } {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    METRICS_PORT: '0',
    DATABASE_URL: config.DATABASE_URL!,
    TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS!,
    TEMPORAL_TASK_QUEUE: config.TEMPORAL_TASK_QUEUE,
    UNSUBSCRIBE_SECRET: config.UNSUBSCRIBE_SECRET,
    PUBLIC_BASE_URL: config.PUBLIC_BASE_URL,
    ...(config.RESEND_API_KEY ? { RESEND_API_KEY: config.RESEND_API_KEY } : {}),
    ...(config.RESEND_BASE_URL ? { RESEND_BASE_URL: config.RESEND_BASE_URL } : {}),
    ...extraEnv,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker running')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before running:\n${output.slice(-2000)}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, exited, output: () => output };
}
