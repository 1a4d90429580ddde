/**
 * The API's description: GET /openapi.json (built from the route table the app mounts,
 * openapi/build.ts) and Swagger UI at GET /docs, served from the swagger-ui-dist package (no
 * CDN: it works offline).
 */
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import { buildDocument } from '../openapi/build';
import { LIMIT_DEFAULTS } from '../../../core/quotas';
import type { Route } from '../route';

const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wizard API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
`;

/** outside the page, so a Content-Security-Policy without 'unsafe-inline' allows it */
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;

/** where Swagger UI's files are served; DOCS_ASSETS as the method gate knows them (GET and HEAD: any other method is a 405) */
const DOCS_ASSETS_DIR = '/docs/assets';
export const DOCS_ASSETS = `${DOCS_ASSETS_DIR}/:file`;

export const docsRoutes: Route[] = [
  {
    method: 'GET',
    path: '/openapi.json',
    need: 'public',
    tag: 'operations',
    summary: 'this document',
    store: false,
    ok: { 200: { description: 'the OpenAPI document', json: 'openapi' } },
    handler: (ctx, table) => {
      let doc: string | null = null;
      return (_req, res) => {
        doc ??= JSON.stringify(buildDocument(table, ctx.limits ?? LIMIT_DEFAULTS));
        res.type('application/json').send(doc);
      };
    },
  },
  {
    method: 'GET',
    path: '/docs',
    need: 'public',
    tag: 'operations',
    summary: 'Swagger UI for this document',
    store: false,
    ok: { 200: { description: 'an HTML page', content: { 'text/html': null } } },
    handler: () => (_req, res) => {
      res.type('html').send(DOCS_PAGE);
    },
  },
  {
    method: 'GET',
    path: '/docs/init.js',
    need: 'public',
    tag: 'operations',
    summary: 'the start script of the Swagger UI page',
    store: false,
    ok: { 200: { description: 'JavaScript', content: { 'text/javascript': null } } },
    handler: () => (_req, res) => {
      res.type('text/javascript').send(DOCS_INIT);
    },
  },
];

/** Swagger UI's own files, under /docs/assets */
export function docsFiles(): [string, RequestHandler] {
  const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  return [DOCS_ASSETS_DIR, express.static(swaggerDir, { index: false, maxAge: '1h' })];
}
