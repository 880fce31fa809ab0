import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { ComposedEmail, composeEmail } from './compose-email.js';
import { TemplateError } from './merge-fields.js';

/**
 * Emails are composed (Liquid, Markdown, sanitising, MJML, the text part) on threads of their
 * own, never on the thread that answers requests or runs workflow tasks. Each render is bounded
 * by the template rules (domain/merge-fields.ts) and the body's length, but the heaviest email
 * the API accepts still costs about a hundred milliseconds: on the main thread, one tenant
 * previewing it in a loop made every other tenant's requests wait behind it (p99 0.7 s); here
 * it only takes a core. A render that runs past COMPOSE_TIMEOUT_MS has its thread terminated.
 */
export const COMPOSE_TIMEOUT_MS = 10_000;

type ComposeInput = Parameters<typeof composeEmail>[0];
type ThreadAnswer = { email: ComposedEmail } | { templateError: { message: string; tag?: string; code: TemplateError['code'] } };

let pool: Piscina | undefined;

function composePool(): Piscina {
  pool ??= new Piscina({
    filename: new URL('./compose-thread.mjs', import.meta.url).href,
    // One core is left to the event loop (and, on a small machine, to PostgreSQL and Temporal).
    maxThreads: Number(process.env.COMPOSE_THREADS) || Math.max(1, availableParallelism() - 1),
    minThreads: 1,
    idleTimeout: 60_000,
    // A render that somehow grows without bound ends its own thread, not the process.
    resourceLimits: { maxOldGenerationSizeMb: 512 },
  });
  return pool;
}

export async function composeOffThread(input: ComposeInput): Promise<ComposedEmail> {
  let answer: ThreadAnswer;
  try {
    answer = await composePool().run(input, { signal: AbortSignal.timeout(COMPOSE_TIMEOUT_MS) });
  } catch (error) {
    if ((error as Error).name === 'AbortError' || (error as Error).name === 'TimeoutError') {
      throw new TemplateError(`the email took more than ${COMPOSE_TIMEOUT_MS / 1000} s to compose`);
    }
    throw error;
  }
  if ('templateError' in answer) throw new TemplateError(answer.templateError.message, answer.templateError.tag, answer.templateError.code);
  return answer.email;
}

/** Ends the threads (process shutdown, end of a test file). */
export async function closeComposePool(): Promise<void> {
  const closing = pool;
  pool = undefined;
  await closing?.destroy();
}
