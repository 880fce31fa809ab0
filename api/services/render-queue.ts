import { setTimeout as sleep } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import pLimit, { type LimitFunction } from 'p-limit';
import { ComposeUnavailable } from '../../domain/compose-pool.js';
import { ApiError } from '../errors.js';

// Renders the API does for an account (checking templates when steps are saved, previews, test
// sends) go one at a time per account, and each account may keep the renderer busy at most a
// quarter of the time: after a render of d ms, its next one waits 3·d ms. Emails are composed
// off the main thread (domain/compose-pool.ts), but the machine's cores are shared: without the
// duty cycle one account previewing its heaviest template in a loop keeps a core busy, and every
// other account's requests slow down. Past MAX_WAITING_RENDERS the account is told to slow down
// rather than queued without end.

export const MAX_WAITING_RENDERS = 8;
export const RENDER_DUTY_CYCLE = 0.25;

const queues = new LRUCache<string, LimitFunction>({ max: 10_000, ttl: 10 * 60_000, updateAgeOnGet: true });

export async function renderFor<T>(accountId: string, render: () => Promise<T>): Promise<T> {
  let queue = queues.get(accountId);
  if (!queue) {
    queue = pLimit(1);
    queues.set(accountId, queue);
  }
  if (queue.pendingCount >= MAX_WAITING_RENDERS) {
    throw new ApiError(429, 'render_busy', `This account already has ${MAX_WAITING_RENDERS} renders waiting; retry when they are done`);
  }
  return new Promise<T>((resolve, reject) => {
    void queue(async () => {
      const started = performance.now();
      try {
        resolve(await render());
      } catch (error) {
        reject(error instanceof ComposeUnavailable ? new ApiError(503, 'compose_unavailable', error.message) : (error as Error));
      }
      // The answer has gone; the account's slot stays taken a while longer.
      const busy = performance.now() - started;
      await sleep((busy * (1 - RENDER_DUTY_CYCLE)) / RENDER_DUTY_CYCLE);
    });
  });
}
