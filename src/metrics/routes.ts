// GET /metrics (Prometheus text format) and the HTTP duration middleware. Both are
// mounted ahead of body parsing and OpenAPI validation, so the middleware times
// every request, and /metrics answers even when the API is not ready.
import { createHash, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type Request, type RequestHandler, Router } from 'express';
import { HttpError } from '../http/problem.ts';
import type { Metrics } from './metrics.ts';

/** nginx's code for "the client closed the connection before the answer". */
const CLIENT_CLOSED = '499';

/** The route pattern (never the raw URL, which would carry ids): bounded label values. */
function routeOf(req: Request): string {
  const path = req.route?.path;
  if (typeof path === 'string') return `${req.baseUrl}${path}`;
  // Requests the OpenAPI validator rejected never reached a route; it knows the pattern.
  const validated = (req as Request & { openapi?: { expressRoute?: unknown } }).openapi?.expressRoute;
  return typeof validated === 'string' ? validated : 'unmatched';
}

export function httpDuration(m: Metrics): RequestHandler {
  return (req, res, next) => {
    const start = performance.now();
    res.once('close', () => {
      const status = res.writableFinished ? String(res.statusCode) : CLIENT_CLOSED;
      m.http.observe({ method: req.method, route: routeOf(req), status_code: status }, (performance.now() - start) / 1000);
    });
    next();
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Bearer check in constant time (comparing fixed-length digests hides the token length). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1]), digest(token));
}

export function metricsRoutes(m: Metrics, token: string | undefined): Router {
  const r = Router();
  r.use(httpDuration(m));
  r.get('/metrics', async (req, res) => {
    if (token && !bearerMatches(req.headers.authorization, token)) {
      throw new HttpError(401, 'unauthorized', 'a valid METRICS_TOKEN bearer token is required', {
        headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' },
      });
    }
    res.type(m.registry.contentType).send(await m.registry.metrics());
  });
  return r;
}
