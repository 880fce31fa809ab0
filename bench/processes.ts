import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

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
