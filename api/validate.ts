import type { z } from 'zod';
import { zodToApiError } from './errors.js';

/** Parses a request part with its zod schema; a failure becomes a 400 naming the field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, location: 'body' | 'query' | 'params' = 'body'): z.infer<S> {
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw zodToApiError(result.error, location);
  return result.data;
}
