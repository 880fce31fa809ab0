import { LRUCache } from 'lru-cache';
import pLimit, { type LimitFunction } from 'p-limit';
import { ApiError } from '../errors.js';

/**
 * Renders (checking templates when steps are saved, previews, test sends) run on the API's one
 * thread, which every account shares. Each account's renders go one at a time, and each render
 * gives the thread back between its phases, so one account previewing its heaviest template in a
 * loop delays another account's request by one phase at most, not by its whole queue. Past
 * MAX_WAITING the account is told to slow down rather than queued without end.
 */
export const MAX_WAITING_RENDERS = 8;

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
  return queue(render);
}
