import { createRequire } from 'node:module';
import express, { Router } from 'express';
import helmet from 'helmet';
import type { AppDeps } from '../deps.js';
import { openApiDocument } from '../openapi.js';

const swaggerUiDir = createRequire(import.meta.url)('swagger-ui-dist').getAbsoluteFSPath() as string;

/** GET /openapi.json (generated from the zod schemas) and GET /docs (Swagger UI, served locally). */
export function docsRoutes(deps: AppDeps): Router {
  const router = Router();
  // Swagger UI: its own scripts and stylesheet from this origin, the inline styles and data: icons
  // it renders, "Try it out" requests to this origin or the public base URL; no framing.
  const docsCsp = helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'", new URL(deps.config.PUBLIC_BASE_URL).origin],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  });
  router.use('/docs', docsCsp);
  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument(deps.config.PUBLIC_BASE_URL));
  });
  router.use('/docs/assets', express.static(swaggerUiDir, { index: false, maxAge: '1d' }));
  router.get('/docs', (_req, res) => {
    res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Email sequences API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><main id="api"></main>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/docs-init.js"></script>
</body></html>`);
  });
  router.get('/docs/assets/docs-init.js', (_req, res) => {
    res
      .type('js')
      .send(
        `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#api', deepLinking: true, tryItOutEnabled: true, validatorUrl: null });`,
      );
  });
  return router;
}
