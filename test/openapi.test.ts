import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app.js';
import { launchBrowser } from './helpers/browser.js';
import { apiClient, logger, startService, type TestService } from './helpers/service.js';

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
    const app = createApp({ config: service.config, database: service.database, temporal: service.temporal, logger, mailer: { send: async () => ({ providerId: 'x' }) } });
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
