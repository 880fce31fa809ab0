import { request } from 'node:http';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app.js';
import { accountSchema } from '../api/schemas/account.js';
import { ENROLMENT_EVENT_TYPES, ENROLMENT_STATUSES } from '../db/schema.js';
import { REFUSAL_MESSAGES } from '../domain/enrolment-rules.js';
import { launchBrowser } from './helpers/browser.js';
import { apiClient, createTestAccount, logger, startService, type TestService } from './helpers/service.js';

let service: TestService;
beforeAll(async () => {
  service = await startService({ withWorker: false });
});
afterAll(() => service.stop());

/** Every (method, path) the Express app really serves, with :params written as {params}. */
function routesOf(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: any[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) {
          found.push(`${method.toUpperCase()} ${(prefix + layer.route.path).replace(/:(\w+)/g, '{$1}')}`);
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack, prefix + (layer.rawPath && layer.rawPath !== '/' ? layer.rawPath : ''));
      }
    }
  };
  walk((app as any).router.stack, '');
  return found;
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1, served at /openapi.json', async () => {
    const res = await apiClient(service.baseUrl)('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(res.body.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('documents every route the app serves', async () => {
    const app = createApp({
      config: service.config,
      database: service.database,
      temporal: service.temporal,
      logger,
      mailer: { send: async () => ({ providerId: 'x' }) },
    });
    const documented = (await apiClient(service.baseUrl)('GET', '/openapi.json')).body.paths as Record<string, Record<string, unknown>>;
    const documentedOps = Object.entries(documented).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    const served = routesOf(app).filter((r) => !r.startsWith('GET /docs/assets'));
    expect(served.length).toBeGreaterThan(40);
    expect(served.filter((r) => !documentedOps.includes(r))).toEqual([]);
    expect(documentedOps.filter((r) => !served.includes(r))).toEqual([]);
  });

  it('describes request bodies with the validation schemas (limits included)', async () => {
    const doc = (await apiClient(service.baseUrl)('GET', '/openapi.json')).body;
    const bulk = doc.paths['/v1/sequences/{id}/enrolments/bulk'].post.requestBody.content['application/json'].schema;
    expect(JSON.stringify(bulk)).toContain('"maxItems":10000');
  });

  it('states the rules the server enforces (issue 14, section 9)', async () => {
    const doc = (await apiClient(service.baseUrl)('GET', '/openapi.json')).body;
    const body = (path: string, method: string) => doc.paths[path][method].requestBody.content['application/json'].schema;
    const ok = (path: string, method: string, status = '200') =>
      doc.paths[path][method].responses[status].content['application/json'].schema;
    // `{}` PATCHes are refused.
    for (const [path, method] of [
      ['/v1/account', 'patch'],
      ['/v1/sequences/{id}', 'patch'],
      ['/v1/sequences/{id}/steps/{stepId}', 'patch'],
      ['/v1/leads/{id}', 'patch'],
    ] as const) {
      expect(body(path, method).minProperties, `${method} ${path}`).toBe(1);
    }
    // The 365-day delay maximum, per unit.
    const delays = body('/v1/sequences/{id}/steps', 'post').properties.delay.oneOf;
    expect(Object.fromEntries(delays.map((d: any) => [d.properties.unit.const, d.properties.amount.maximum]))).toEqual({
      minutes: 525_600,
      hours: 8_760,
      days: 365,
      business_days: 260,
    });
    // Time zones and cursors name their rule; Idempotency-Key its format.
    expect(JSON.stringify(body('/v1/account', 'patch').properties.timezone)).toContain('"format":"iana-time-zone"');
    expect(doc.paths['/v1/sequences'].get.parameters.find((p: any) => p.name === 'cursor').schema.format).toBe('page-cursor');
    expect(
      doc.paths['/v1/sequences/{id}/enrolments/bulk'].post.parameters.find((p: any) => p.name === 'idempotency-key').schema.pattern,
    ).toBeDefined();
    // Enums for statuses, skip reasons and timeline types; full timeline entries.
    const detail = ok('/v1/enrolments/{id}', 'get');
    expect(detail.properties.status.enum).toEqual([...ENROLMENT_STATUSES]);
    const entries = detail.properties.timeline.items.oneOf as any[];
    expect(entries.map((e) => e.properties.type.const).sort()).toEqual([...ENROLMENT_EVENT_TYPES].sort());
    const sent = entries.find((e) => e.properties.type.const === 'email_sent');
    expect(Object.keys(sent.properties).sort()).toEqual(['at', 'messageId', 'stepId', 'subject', 'type', 'variant', 'variantId']);
    const skipped = ok('/v1/sequences/{id}/enrolments/bulk', 'post').properties.results.items.oneOf.find(
      (r: any) => r.properties.status.const === 'skipped',
    );
    expect(skipped.properties.reason.enum.sort()).toEqual(Object.keys(REFUSAL_MESSAGES).sort());
    // Links for the stateful phase.
    expect(Object.keys(doc.paths['/v1/sequences'].post.responses['201'].links)).toContain('GetSequence');
  });

  it('answers the account with exactly the fields its schema documents', async () => {
    const { apiKey } = await createTestAccount(service);
    const res = await apiClient(service.baseUrl, apiKey)('GET', '/v1/account');
    expect(res.status).toBe(200);
    const parsed = accountSchema.strict().safeParse(res.body);
    expect(parsed.error?.issues ?? []).toEqual([]);
    const documented = Object.keys(accountSchema.shape).filter((key) => key !== 'portalWebhookSecret');
    expect(Object.keys(res.body).sort()).toEqual(documented.sort());
  });

  it('answers a method a path does not have with 405 and the Allow header of that path', async () => {
    const id = '3f8a2b4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c';
    const cases: [method: string, path: string, allow: string][] = [
      ['PATCH', `/v1/sequences/${id}/steps/order`, 'PUT, OPTIONS'],
      ['GET', '/v1/leads/import', 'POST, OPTIONS'],
      ['TRACE', '/docs', 'GET, HEAD, OPTIONS'],
      ['DELETE', '/v1/sequences', 'POST, GET, HEAD, OPTIONS'],
    ];
    // node:http, as fetch refuses to send TRACE.
    const send = (method: string, path: string) =>
      new Promise<{ status: number; allow?: string; body: string }>((resolve, reject) => {
        const req = request(`${service.baseUrl}${path}`, { method }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, allow: res.headers.allow, body }));
        });
        req.on('error', reject);
        req.end();
      });
    for (const [method, path, allow] of cases) {
      const res = await send(method, path);
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.allow, `${method} ${path}`).toBe(allow);
      expect(JSON.parse(res.body).error.code).toBe('method_not_allowed');
    }
    // OPTIONS lists exactly the path's methods: a literal path is not the parameter route beside it.
    const options = await fetch(`${service.baseUrl}/v1/sequences/${id}/steps/order`, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('PUT, OPTIONS');
  });

  it('has a readable docs page', async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${service.baseUrl}/docs`);
      await page.getByText('Email sequences API').first().waitFor({ timeout: 15_000 });
      await expect(page.getByText('/v1/sequences/{id}/enrolments/bulk').first().isVisible()).resolves.toBe(true);
    } finally {
      await browser.close();
    }
  });
});
