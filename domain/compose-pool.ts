import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { processSettings } from '../config.js';
import type { ComposedEmail, composeEmail } from './compose-email.js';
import type { TaskAnswer } from './compose-tasks.js';
import { TemplateError } from './merge-fields.js';

/**
 * Emails are composed (Liquid, Markdown, sanitising, MJML, the text part), and templates checked
 * when a step is saved, on threads of their own, never on the thread that answers requests or
 * runs workflow tasks. Each render is bounded by the template rules (domain/merge-fields.ts) and
 * the body's length, but the heaviest email the API accepts still costs about a hundred
 * milliseconds: on the main thread, one tenant previewing it in a loop made every other tenant's
 * requests wait behind it (p99 0.7 s); here it only takes a core.
 *
 * A task that has not answered within COMPOSE_TIMEOUT_MS (waiting included: the pool cannot tell
 * waiting from running) has its thread terminated and fails with ComposeUnavailable, which is
 * the machine's fault, not the template's: sends retry it, the API answers 503.
 */
export const COMPOSE_TIMEOUT_MS = 30_000;

export class ComposeUnavailable extends Error {}

type ComposeInput = Parameters<typeof composeEmail>[0];

let pool: Piscina | undefined;

function composePool(): Piscina {
  pool ??= new Piscina({
    filename: new URL('./compose-thread.mjs', import.meta.url).href,
    // One core is left to the event loop (and, on a small machine, to PostgreSQL and Temporal).
    maxThreads: processSettings().COMPOSE_THREADS ?? Math.max(1, availableParallelism() - 1),
    minThreads: 1,
    idleTimeout: 60_000,
    // A render that somehow grows without bound ends its own thread, not the process.
    resourceLimits: { maxOldGenerationSizeMb: 512 },
  });
  return pool;
}

async function runTask<T>(input: unknown, name?: string): Promise<T> {
  let answer: TaskAnswer<T>;
  try {
    answer = await composePool().run(input, { ...(name ? { name } : {}), signal: AbortSignal.timeout(COMPOSE_TIMEOUT_MS) });
  } catch (error) {
    if ((error as Error).name === 'AbortError' || (error as Error).name === 'TimeoutError') {
      throw new ComposeUnavailable(`composing did not finish within ${COMPOSE_TIMEOUT_MS / 1000} s (the service is overloaded); try again`);
    }
    throw error;
  }
  if ('templateError' in answer) throw new TemplateError(answer.templateError.message, answer.templateError.tag, answer.templateError.code);
  return answer.ok;
}

export const composeOffThread = (input: ComposeInput) => runTask<ComposedEmail>(input);

/** assertKnownMergeTags on a compose thread. */
export const checkTemplateOffThread = (source: string) => runTask<true>(source, 'checkTemplate');
