// The thread that composes emails (see domain/compose-pool.ts). Plain JavaScript so that it loads
// in every process that starts one (production under tsx, the test runner, the benchmarks); it
// loads the TypeScript composer through tsx's API.
import { tsImport } from 'tsx/esm/api';

// One import: each tsImport call loads its own copy of the modules, and TemplateError must be the
// class compose-email.ts throws.
const { composeEmail, TemplateError } = await tsImport('./compose-email.ts', import.meta.url);

/** A template's own fault comes back as data: an Error's class does not survive the thread. */
export default async function compose(input) {
  try {
    return { email: await composeEmail(input) };
  } catch (error) {
    if (error instanceof TemplateError) return { templateError: { message: error.message, tag: error.tag, code: error.code } };
    throw error;
  }
}
