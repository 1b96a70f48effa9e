// The operator dashboard (/ui) and the API reference (/docs): static files only,
// mounted before authentication and OpenAPI validation because they hold no data
// and no secrets — every number on the dashboard comes from the JSON API with the
// operator's own token. Swagger UI is served from node_modules (no CDN), and a
// Content-Security-Policy keeps both pages from loading or calling anything but
// this service.
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router } from 'express';

export const UI_DIR = path.join(import.meta.dirname, 'public');
const DOCS_DIR = path.join(import.meta.dirname, 'docs');
const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
/** The only Swagger UI files the docs page needs. */
const SWAGGER_UI_FILES = ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png'];

// Swagger UI sets inline styles on elements, hence style-src 'unsafe-inline'; scripts stay 'self'.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const securityHeaders: express.RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
};

// Small files that change with each release: always revalidate.
const staticOptions = { fallthrough: true, index: ['index.html'], maxAge: 0, setHeaders: noCache };
function noCache(res: express.Response) {
  res.setHeader('Cache-Control', 'no-cache');
}

export function uiRoutes(): Router {
  const r = Router();
  r.use(['/ui', '/docs'], securityHeaders);
  r.use('/ui', express.static(UI_DIR, staticOptions));
  r.get('/docs', (_req, res) => {
    noCache(res);
    res.sendFile(path.join(DOCS_DIR, 'index.html'));
  });
  r.get('/docs/docs.js', (_req, res) => {
    noCache(res);
    res.sendFile(path.join(DOCS_DIR, 'docs.js'));
  });
  for (const file of SWAGGER_UI_FILES) {
    r.get(`/docs/vendor/${file}`, (_req, res) => {
      res.setHeader('Cache-Control', 'public, max-age=86400');
      res.sendFile(path.join(SWAGGER_UI_DIR, file));
    });
  }
  return r;
}
