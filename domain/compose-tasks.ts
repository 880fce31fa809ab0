import { composeEmail, type ComposedEmail } from './compose-email.js';
import { assertKnownMergeTags, TemplateError } from './merge-fields.js';

// What the compose threads do (compose-thread.mjs loads this module; compose-pool.ts sends the
// work). A template's own fault comes back as data: an Error's class does not cross a thread.

export type TaskAnswer<T> = { ok: T } | { templateError: { message: string; tag?: string; code: TemplateError['code'] } };

function asAnswer(error: unknown): TaskAnswer<never> {
  if (error instanceof TemplateError) return { templateError: { message: error.message, tag: error.tag, code: error.code } };
  throw error;
}

export async function compose(input: Parameters<typeof composeEmail>[0]): Promise<TaskAnswer<ComposedEmail>> {
  try {
    return { ok: await composeEmail(input) };
  } catch (error) {
    return asAnswer(error);
  }
}

/** The check made when a step is saved: its cost grows with the template, so it runs here too. */
export function checkTemplate(source: string): TaskAnswer<true> {
  try {
    assertKnownMergeTags(source);
    return { ok: true };
  } catch (error) {
    return asAnswer(error);
  }
}
