// Every way a provider call can go wrong becomes one ProviderError with a job
// error category, here and nowhere else:
//   connection refused/reset, DNS failure, 502/503/504 → provider_unavailable (retryable)
//   429                                                → rate_limited (retryable, Retry-After honoured)
//   a deadline passed                                  → timeout (retryable)
//   400/422 or input that fails validation             → invalid_input (not retryable)
//   a caller's URL at a refused address (address-rules) → invalid_input
//   any other 4xx/5xx, an unparseable reply            → provider_error (retryable)
// Messages name the provider and what happened; they never contain request
// bodies, API keys or a provider's whole reply (at most a short error text).
import { AddressNotAllowedError } from '../../lib/address-rules.ts';

export type ErrorCategory = 'provider_unavailable' | 'rate_limited' | 'timeout' | 'invalid_input' | 'provider_error';

export const RETRY_AFTER_MAX_SECONDS = 86_400;
const DETAIL_MAX_CHARS = 200;

export class ProviderError extends Error {
  readonly category: ErrorCategory;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;

  constructor(category: ErrorCategory, message: string, retryAfterSeconds?: number) {
    super(message);
    this.name = 'ProviderError';
    this.category = category;
    this.retryable = category !== 'invalid_input';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export function invalidInput(message: string): ProviderError {
  return new ProviderError('invalid_input', message);
}

export function unparseableReply(provider: string, what: string): ProviderError {
  return new ProviderError('provider_error', `${provider} sent an unparseable reply: ${what}`);
}

/** Maps a non-2xx answer from a provider. `body` is read only for a short error text. */
export function fromStatus(provider: string, status: number, retryAfter: unknown, body = ''): ProviderError {
  const detail = errorText(body);
  const message = `${provider} answered ${status}${detail ? `: ${detail}` : ''}`;
  if (status === 429) return new ProviderError('rate_limited', message, parseRetryAfter(retryAfter));
  if (status === 502 || status === 503 || status === 504) return new ProviderError('provider_unavailable', message);
  if (status === 400 || status === 422) return new ProviderError('invalid_input', message);
  return new ProviderError('provider_error', message);
}

/**
 * A download of caller-supplied data (e.g. an audio_url): a 4xx other than 429
 * means the caller's URL is wrong, which retrying cannot fix.
 */
export function fromDownloadStatus(what: string, status: number, retryAfter: unknown): ProviderError {
  // Following a redirect would skip the host and address checks made for the first URL.
  if (status >= 300 && status < 400) return invalidInput(`${what} answered ${status}: redirects are not followed`);
  if (status >= 400 && status < 500 && status !== 429) return invalidInput(`${what} answered ${status}`);
  return fromStatus(what, status, retryAfter);
}

const UNAVAILABLE_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
};

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** Maps anything thrown while calling a provider (transport errors, deadlines). */
export function fromThrown(provider: string, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  for (const e of causes(err)) {
    if (e instanceof AddressNotAllowedError) return invalidInput(`${provider} is refused: ${e.message}`);
    const code = typeof e.code === 'string' ? e.code : '';
    if (e.name === 'TimeoutError' || TIMEOUT_CODES.has(code)) return new ProviderError('timeout', `${provider} timed out`);
    if (UNAVAILABLE_CODES[code]) return new ProviderError('provider_unavailable', `${provider}: ${UNAVAILABLE_CODES[code]} (${code})`);
  }
  const first = causes(err)[0];
  const what = first ? `${first.name}${typeof first.code === 'string' ? ` ${first.code}` : ''}` : 'unknown error';
  return new ProviderError('provider_error', `${provider} call failed: ${what}`);
}

interface ErrorLike {
  name?: string;
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The error, its causes and (for AggregateError, e.g. happy-eyeballs connects) its members. */
function causes(err: unknown, depth = 0): ErrorLike[] {
  if (!err || typeof err !== 'object' || depth > 4) return [];
  const e = err as ErrorLike;
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => causes(x, depth + 1)) : [];
  return [e, ...nested, ...causes(e.cause, depth + 1)];
}

/** Retry-After as delta-seconds or an HTTP date; clamped to what the service accepts. */
export function parseRetryAfter(raw: unknown): number | undefined {
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const v = value.trim();
  const seconds = /^\d+$/.test(v) ? Number(v) : Math.ceil((Date.parse(v) - Date.now()) / 1000);
  if (!Number.isFinite(seconds)) return undefined;
  return Math.min(RETRY_AFTER_MAX_SECONDS, Math.max(0, seconds));
}

/** A short error text from a JSON error body (OpenAI `error.message`, FastAPI `detail`), never the raw body. */
function errorText(body: string): string {
  let text: unknown;
  try {
    const j = JSON.parse(body);
    text = j?.error?.message ?? j?.message ?? j?.detail?.[0]?.msg ?? j?.detail ?? (typeof j?.error === 'string' ? j.error : undefined);
  } catch {
    return '';
  }
  if (typeof text !== 'string') return '';
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > DETAIL_MAX_CHARS ? `${oneLine.slice(0, DETAIL_MAX_CHARS)}…` : oneLine;
}
