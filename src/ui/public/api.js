// The one way the dashboard talks to the service. Adds the admin token from
// session storage as a Bearer header (never a URL parameter), turns
// problem+json answers into ApiError, and reports each outcome to `connection`
// so the header can say whether the data is live.

const TOKEN_KEY = 'ai-service.admin-token';
/** A request that takes longer than this is treated as the service being unreachable. */
export const REQUEST_TIMEOUT_MS = 10_000;

export class ApiError extends Error {
  /** @param {number} status 0 when no HTTP answer arrived @param {string} code @param {string} detail */
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
  }

  /** True when the service itself is not answering properly (network, timeout, 5xx). */
  get unreachable() {
    return this.status === 0 || this.status >= 500;
  }

  get needsToken() {
    return this.status === 401 || this.status === 403;
  }

  toString() {
    return this.status ? `${this.status} ${this.code}: ${this.message}` : this.message;
  }
}

/** Fired as 'result' with detail { ok: boolean, error?: ApiError }. */
export const connection = new EventTarget();

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  /** @param {string} value */
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/**
 * @param {string} path e.g. /api/v1/stats
 * @param {{ method?: string, body?: unknown }} [options]
 * @returns {Promise<any>}
 */
export async function api(path, options = {}) {
  try {
    const data = await request(path, options);
    connection.dispatchEvent(new CustomEvent('result', { detail: { ok: true } }));
    return data;
  } catch (err) {
    const error = err instanceof ApiError ? err : new ApiError(0, 'network', 'the service is unreachable');
    connection.dispatchEvent(new CustomEvent('result', { detail: { ok: false, error } }));
    throw error;
  }
}

/** @param {string} path @param {{ method?: string, body?: unknown }} options */
async function request(path, { method = 'GET', body }) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json, application/problem+json' };
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    const timedOut = err instanceof DOMException && err.name === 'TimeoutError';
    throw new ApiError(0, timedOut ? 'timeout' : 'network', timedOut ? 'the service did not answer in time' : 'the service is unreachable');
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, data?.code ?? `http_${res.status}`, data?.detail ?? (res.statusText || 'request failed'));
  return data;
}

/** Builds "/api/v1/jobs?a=1" from an object, skipping empty values. @param {string} path @param {Record<string, string | number | undefined | null>} query */
export function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * Follows a Server-Sent Events stream of the API (fetch, so the Bearer header is sent;
 * EventSource cannot send one) until the server ends it or `signal` aborts. Each
 * message is handed to `onEvent(event, data)`. Resolves when the stream ends.
 * @param {string} path @param {(event: string, data: any) => void} onEvent @param {AbortSignal} signal
 */
export async function followEvents(path, onEvent, signal) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'text/event-stream' };
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const res = await fetch(path, { headers, cache: 'no-store', signal });
  if (!res.ok || !res.body) throw new ApiError(res.status, `http_${res.status}`, 'the event stream was refused');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) onEvent(event, JSON.parse(data));
    }
  }
}
