import type { Response } from 'express';
import type { z } from 'zod';

/**
 * Sends a JSON answer typed by the api/schemas/ schema that the OpenAPI document gives it: an answer
 * that drifts from its documented shape is a type error here, not a surprise for the portal
 * (test/api-fuzz.test.ts checks the values themselves against the document). The schema is not
 * run: answers are built by our code, and parsing each would cost every request.
 */
export function answer<S extends z.ZodType>(res: Response, status: number, _schema: S, body: z.input<S>): void {
  res.status(status).json(body);
}
