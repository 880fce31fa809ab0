import { Router } from 'express';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { livenessSchema, readinessSchema } from '../schemas/health.js';

const CHECK_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref()),
  ]);
}

/** /healthz: the process is up. /readyz: it can do its job (database and Temporal answer). */
export function healthRoutes({ database, temporal }: AppDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    answer(res, 200, livenessSchema, { status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const checks: Record<string, () => Promise<unknown>> = {
      database: () => database.ping(),
      temporal: () => temporal.workflowService.getSystemInfo({}),
    };
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS);
          return [name, { status: 'up' }] as const;
        } catch (error) {
          return [name, { status: 'down', error: (error as Error).message }] as const;
        }
      }),
    );
    const failing = results.filter(([, r]) => r.status === 'down').map(([name]) => name);
    answer(res, failing.length ? 503 : 200, readinessSchema, {
      status: failing.length ? 'unavailable' : 'ready',
      ...(failing.length ? { failing } : {}),
      checks: Object.fromEntries(results),
    });
  });
  return router;
}
