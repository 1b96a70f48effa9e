// pino-http: one JSON line per request, with a request id taken from
// X-Request-Id (when sane) or generated, and echoed back. Secrets are removed by
// redaction paths, not by care at each call site.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type Logger } from 'pino';
import { pinoHttp } from 'pino-http';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  '*.apiKey',
  '*.api_key',
  '*.token',
  '*.password',
  '*.secret',
  'lease_token',
  '*.lease_token',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

const withToken = (req: { auth?: { name?: string } }, line: object) => (req.auth?.name ? { ...line, token: req.auth.name } : line);

export function requestLogger(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    // The token's name goes on the request's line itself. Through customProps it cost two
    // child loggers per request: pino-http calls that as the request arrives (before
    // authentication: no name yet, still a child) and again as it ends.
    customSuccessObject: (req: any, _res, line) => withToken(req, line),
    customErrorObject: (req: any, _res, _err, line) => withToken(req, line),
    // Health probes every few seconds would drown the log.
    autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
    serializers: {
      req: (req) => ({ id: req.id, method: req.method, url: req.url }),
      res: (res) => ({ statusCode: res.statusCode }),
    },
  });
}
