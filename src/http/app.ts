// createApp(deps) builds the Express app without listening, so tests mount it
// directly. Order: request log → body parsers → OpenAPI validation → routes →
// one error handler.
import path from 'node:path';
import express, { type Express, type Router } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Logger } from 'pino';
import type { LimitsConfig } from '../config.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { BODY_WRAPPER_DEPTH, jsonBody } from './json-body.ts';
import { requestLogger } from './request-log.ts';
import { traceRequests } from '../tracing/http.ts';
import type { Tracing } from '../tracing/tracing.ts';

export const SPEC_PATH = path.join(import.meta.dirname, '..', '..', 'openapi.yaml');

export interface AppParts {
  limits: LimitsConfig;
  logger: Logger;
  /** Routers mounted before validation (static files, docs, metrics, health). */
  openRoutes?: Router[];
  /** Access control: runs before body parsing, so a caller without a token costs no parsing. */
  authenticate?: express.RequestHandler;
  /** Middleware run after body parsing and before validation. */
  before?: express.RequestHandler[];
  /** Routers for the documented API. */
  routes: Router[];
  /** Response validation against openapi.yaml: on in tests. */
  validateResponses?: boolean;
  /** Server spans for /api requests, when tracing is on. */
  tracing?: Tracing;
}

/**
 * express-openapi-validator loads and compiles the spec in the background and
 * holds the first request until that is done: a second or more of CPU under load,
 * which would land on the first requests (and time out /readyz). Its first
 * middleware resolves once the spec is loaded, doing what the first request would
 * (install path parameters on this app); the server awaits this before listening.
 */
function specLoaded(app: Express, validator: express.RequestHandler[]): Promise<void> {
  const first = validator[0] as unknown as (req: unknown, res: unknown, next: () => void) => void;
  // Only for the middleware we know (express-openapi-validator 5.x, pinned); otherwise skip the wait.
  if (first?.name !== 'pathParamsMiddleware') return Promise.resolve();
  return new Promise((resolve) => first({ app }, {}, () => resolve()));
}

export function createApp(parts: AppParts): Express {
  const { limits } = parts;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestLogger(parts.logger));
  // Only when on: with tracing off an API request pays nothing for it.
  if (parts.tracing?.enabled) app.use('/api/', traceRequests(parts.tracing));
  for (const r of parts.openRoutes ?? []) app.use(r);
  app.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml').sendFile(SPEC_PATH);
  });

  if (parts.authenticate) app.use(parts.authenticate);
  const json = (limit: number) => jsonBody(limit, limits.jsonMaxDepth + BODY_WRAPPER_DEPTH);
  // Routes that carry many jobs (inputs or results) in one body get the batch limit.
  app.use(['/api/v1/jobs/batch', '/api/v1/jobs/complete'], json(limits.batchBodyBytes));
  app.use(json(limits.bodyBytes));
  for (const mw of parts.before ?? []) app.use(mw);

  const validator = OpenApiValidator.middleware({
    apiSpec: SPEC_PATH,
    // allErrors: a 400 names every offending field, not just the first. Bodies are
    // size-limited above and errors.ts caps the list, which bounds the extra cost.
    validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, allErrors: true },
    validateResponses: parts.validateResponses ? { removeAdditional: false } : false,
    validateSecurity: false,
    validateFormats: true,
    ignoreUndocumented: false,
  });
  app.locals.specLoaded = specLoaded(app, validator);
  app.use(validator);
  for (const r of parts.routes) app.use(r);
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
