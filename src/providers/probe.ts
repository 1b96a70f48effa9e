// One HTTP GET against a provider for a status check: bounded by an AbortSignal,
// a capped body read, and a short error string that never carries the URL, the
// credentials or anything the provider sent.
import { performance } from 'node:perf_hooks';
import { type Dispatcher, request } from 'undici';
import { readCapped } from '../lib/read-capped.ts';

export interface ProbeResult {
  /** HTTP status when the provider answered. */
  status?: number;
  /** The body, when asked for, the status was 200 and it fit in maxBytes. */
  body?: string;
  /** True when the body was longer than maxBytes (it is then not returned). */
  tooLarge?: boolean;
  /** Short reason the request failed: `timeout`, `connection refused`, … */
  error?: string;
}

export interface ProbeOptions {
  headers: Record<string, string>;
  signal: AbortSignal;
  dispatcher: Dispatcher;
  /** Read the body of a 200 up to this many bytes; 0 = discard it. */
  maxBytes: number;
}

const CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  UND_ERR_SOCKET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'host unreachable',
  ETIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
};

/** Maps a request failure to a short, secret-free reason. */
export function shortError(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return 'timeout';
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = String(e?.code ?? e?.cause?.code ?? '');
  if (CODES[code]) return CODES[code];
  if (/CERT|SSL|TLS/.test(code)) return 'tls error';
  return 'request failed';
}

export async function probe(url: URL, o: ProbeOptions): Promise<ProbeResult> {
  try {
    // undici.request never follows redirects: a 3xx is the provider's own answer.
    const res = await request(url, { method: 'GET', headers: o.headers, signal: o.signal, dispatcher: o.dispatcher });
    if (res.statusCode !== 200 || o.maxBytes === 0) {
      await res.body.dump();
      return { status: res.statusCode };
    }
    const { data, over } = await readCapped(res.body, o.maxBytes);
    return over ? { status: 200, tooLarge: true } : { status: 200, body: data.toString('utf8') };
  } catch (err) {
    return { error: shortError(err, o.signal) };
  }
}

/** Milliseconds since `start` (a performance.now() value), rounded. */
export const elapsedMs = (start: number) => Math.round(performance.now() - start);

/** scheme://host[:port]/path: what a status page may show (no userinfo, query or fragment). */
export function publicEndpoint(raw: string): string {
  const u = new URL(raw);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
  return `${u.protocol}//${u.host}${path}`;
}

/** The URL to request: credentials removed (sent as a header instead), `suffix` appended to the path. */
export function requestUrl(raw: string, suffix = ''): URL {
  const u = new URL(raw);
  u.username = '';
  u.password = '';
  u.hash = '';
  u.pathname = u.pathname.replace(/\/+$/, '') + suffix;
  return u;
}

/** Basic credentials from the URL's userinfo, if any (e.g. a proxy in front of WhisperX). */
export function basicAuth(raw: string): string | undefined {
  const u = new URL(raw);
  if (!u.username && !u.password) return undefined;
  const pair = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  return `Basic ${Buffer.from(pair).toString('base64')}`;
}
