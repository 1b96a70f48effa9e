// Access control for the service: decides at start-up whether it is on, and
// gives the middleware that authenticates every request reaching it (everything
// except the open routes mounted before it: health, readiness, the spec, metrics).
//
// Secure by default: in production the service refuses to start without tokens
// unless AUTH_DISABLED=true says so explicitly. In development with no tokens it
// runs open and says so in the start-up log.
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { type Config, ConfigError } from '../config.ts';
import { HttpError } from '../http/problem.ts';
import { allowed, ruleFor } from './policy.ts';
import { TokenStore } from './store.ts';

export interface AccessControl {
  enabled: boolean;
  /** Mounted before body parsing; undefined when access control is off. */
  middleware: RequestHandler | undefined;
  /** Re-reads API_TOKENS_FILE (SIGHUP). On error keeps the current tokens and returns false. */
  reload(): boolean;
}

const REALM = 'Bearer realm="ai-service"';
const BEARER_RE = /^Bearer[ \t]+(\S+)[ \t]*$/i;

export function unauthorized(invalid: boolean): HttpError {
  // RFC 6750 §3.1: no error code when the request carried no credentials.
  const header = invalid ? `${REALM}, error="invalid_token"` : REALM;
  const detail = invalid ? 'the bearer token is not valid' : 'a bearer token is required (Authorization: Bearer <token>)';
  return new HttpError(401, 'unauthorized', detail, { headers: { 'WWW-Authenticate': header } });
}

export const forbidden = (detail: string) => new HttpError(403, 'forbidden', detail);

export function authenticate(store: TokenStore): RequestHandler {
  return (req, _res, next) => {
    const match = BEARER_RE.exec(req.headers.authorization ?? '');
    if (!match) return next(unauthorized(Boolean(req.headers.authorization)));
    const principal = store.lookup(match[1]);
    if (!principal) return next(unauthorized(true));
    req.auth = principal;
    if (!allowed(principal.role, req.method, req.path)) {
      const op = ruleFor(req.method, req.path)?.operationId ?? `${req.method} ${req.path}`;
      return next(forbidden(`token ${principal.name} (${principal.role}) may not call ${op}`));
    }
    next();
  };
}

const off: Omit<AccessControl, 'reload'> = { enabled: false, middleware: undefined };

/** Production refuses to start without tokens unless access control is explicitly disabled. */
export function createAccessControl(config: Pick<Config, 'auth' | 'production'>, logger: Logger): AccessControl {
  const { auth } = config;
  const configured = Boolean(auth.tokensFile || auth.tokens);
  if (auth.disabled) {
    logger.warn('AUTH_DISABLED=true: access control is OFF; every caller may do everything');
    return { ...off, reload: () => false };
  }
  if (!configured) {
    if (config.production)
      throw new ConfigError(
        'no API tokens in production: set API_TOKENS_FILE or API_TOKENS (or AUTH_DISABLED=true to run without access control)',
      );
    logger.warn('no API tokens (API_TOKENS_FILE, API_TOKENS): access control is OFF in development; every caller may do everything');
    return { ...off, reload: () => false };
  }
  const store = new TokenStore({ file: auth.tokensFile, inline: auth.tokens });
  store.load();
  logger.info({ tokens: store.summary() }, 'access control is on');
  return {
    enabled: true,
    middleware: authenticate(store),
    reload() {
      try {
        store.load();
        logger.info({ tokens: store.summary() }, 'API tokens reloaded');
        return true;
      } catch (err) {
        logger.error({ problem: (err as Error).message }, 'API tokens not reloaded; keeping the current ones');
        return false;
      }
    },
  };
}
