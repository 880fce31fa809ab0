import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { ApiError, zodToApiError } from './errors.js';

/**
 * Parses a request part with its zod schema; a failure becomes a 400 naming the field. A missing
 * body is refused rather than read as `{}`: otherwise an empty POST would create a blank record.
 * Routes whose body is optional pass `req.body ?? {}`.
 */
export function parse<S extends z.ZodType>(schema: S, value: unknown, location: 'body' | 'query' | 'params' = 'body'): z.infer<S> {
  if (location === 'body' && value === undefined) {
    throw new ApiError(400, 'validation_error', 'body: a JSON body is required (Content-Type: application/json)');
  }
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw zodToApiError(result.error, location);
  return result.data;
}

/** The API reads JSON only: a body in any other media type is refused, not silently ignored. */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  // A request that names another media type is refused even when it is empty: it was not meant for a
  // JSON API. Read from the header itself: Express's req.is() answers null for any empty request,
  // so an empty GET naming application/json would be refused too.
  const named = req.headers['content-type']?.split(';')[0]!.trim().toLowerCase();
  const namesOtherType = named !== undefined && named !== 'application/json';
  if ((hasBody && !req.is('application/json')) || namesOtherType) {
    return next(
      new ApiError(
        415,
        'unsupported_media_type',
        `Send the body as application/json (got ${req.get('content-type') ?? 'no Content-Type'})`,
      ),
    );
  }
  // The JSON parser reads an empty body as {}: no body must stay no body, for parse() to refuse.
  if (!hasBody) req.body = undefined;
  next();
};

// PostgreSQL text cannot hold U+0000, and a lone UTF-16 surrogate is no character at all (it
// would be stored as U+FFFD): either would fail or change the value on its way to the database.
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what this looks for
const UNSTORABLE = /\u0000|\p{Cs}/u;

/** Deeper than any body of ours: a JSON body nested further is refused before it is walked. */
export const MAX_BODY_DEPTH = 64;

/** The path of the first unstorable text, or of the first value nested deeper than MAX_BODY_DEPTH. */
function unstorablePath(value: unknown, path: string[]): { path: string[]; tooDeep?: true } | undefined {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? { path } : undefined;
  if (path.length > MAX_BODY_DEPTH && value !== null && typeof value === 'object')
    return { path: path.slice(0, MAX_BODY_DEPTH), tooDeep: true };
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = unstorablePath(item, [...path, String(i)]);
      if (found) return found;
    }
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (UNSTORABLE.test(key)) return { path: [...path, key] };
      const found = unstorablePath(item, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

/** Refuses a JSON body or query holding text PostgreSQL cannot take as given, naming the field. */
export const rejectUnstorableText: RequestHandler = (req, _res, next) => {
  const found = unstorablePath(req.body, []) ?? unstorablePath(req.query, []);
  if (!found) return next();
  if (found.tooDeep) return next(new ApiError(400, 'validation_error', `body: nested more than ${MAX_BODY_DEPTH} levels deep`));
  const field = found.path.join('.') || undefined;
  next(new ApiError(400, 'validation_error', `${field ?? 'body'}: must not contain NUL characters or unpaired UTF-16 surrogates`, field));
};
