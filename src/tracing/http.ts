// Server spans for API requests, and the trace context a request hands on. A span
// starts when the request arrives, continuing the caller's `traceparent` header,
// and ends when the response is done, named by its route (`POST /api/v1/jobs/:id/complete`).
// With tracing off the middleware is not installed, and `requestTraceparent` is the
// caller's header, when valid, unchanged.
import type { Request, RequestHandler, Response } from 'express';
import { validTraceparent } from './traceparent.ts';
import type { Span, Tracing } from './tracing.ts';

const SPAN = Symbol('span');
type Traced = Response & { [SPAN]?: Span };

export function traceRequests(tracing: Tracing): RequestHandler {
  return (req, res, next) => {
    const span = tracing.start(`${req.method} /api`, {
      parent: req.get('traceparent'),
      kind: 'server',
      attributes: { 'http.request.method': req.method, 'url.path': req.originalUrl.split('?')[0] },
    });
    (res as Traced)[SPAN] = span;
    res.on('close', () => {
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : undefined;
      if (route) span.rename(`${req.method} ${route}`);
      span.setAttributes({ 'http.response.status_code': res.statusCode, ...(route ? { 'http.route': route } : {}) });
      if (res.statusCode >= 500) span.fail(`HTTP ${res.statusCode}`);
      span.end();
    });
    next();
  };
}

/** The trace context work started by this request continues: its span's, or the caller's header. */
export function requestTraceparent(req: Request, res: Response): string | undefined {
  return (res as Traced)[SPAN]?.traceparent ?? validTraceparent(req.get('traceparent'));
}

/** Links the request's span to the traces of the jobs it handed out (a claim). */
export function linkJobTraces(res: Response, jobs: { traceparent: string | null }[]): void {
  (res as Traced)[SPAN]?.link(jobs.map((j) => j.traceparent));
}
