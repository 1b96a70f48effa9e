// One delivery attempt over HTTP: POST with a total timeout, no redirects
// followed, and at most RESPONSE_PEEK_BYTES of the receiver's answer read. With a
// public-address dispatcher, a refused destination ends the delivery at once.
import { type Dispatcher, request } from 'undici';
import { AddressNotAllowedError, checkAddresses, urlHost } from '../lib/address-rules.ts';

const RESPONSE_PEEK_BYTES = 1024;
const ERROR_TEXT_MAX = 200;

export interface AttemptResult {
  ok: boolean;
  retryable: boolean;
  statusCode: number | null;
  error: string | null;
  /** From Retry-After on 429/503, in ms. */
  retryAfterMs: number | null;
  latencyMs: number;
}

function parseRetryAfter(value: string | string[] | undefined): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

async function peek(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= RESPONSE_PEEK_BYTES) break;
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, RESPONSE_PEEK_BYTES).toString('utf8');
}

function networkError(err: any): string {
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return 'timeout';
  const code = err?.code ?? err?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection reset';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  return code ? `network error (${code})` : 'network error';
}

function refusal(err: unknown): AddressNotAllowedError | undefined {
  for (let e: any = err, depth = 0; e && depth < 5; e = e.cause, depth++) if (e instanceof AddressNotAllowedError) return e;
  return undefined;
}

/** `publicOnly`: a dispatcher that connects only to public addresses (names are checked at connect). */
export async function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  publicOnly?: Dispatcher,
): Promise<AttemptResult> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  try {
    // IP literals never reach the dispatcher's lookup, so they are checked here.
    const { host, literal } = urlHost(new URL(url));
    if (publicOnly && literal) checkAddresses(host, [host]);
    const res = await request(url, {
      dispatcher: publicOnly,
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'user-agent': 'ai-service-webhooks', ...headers },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await peek(res.body as any).catch(() => '');
    const s = res.statusCode;
    if (s >= 200 && s < 300) return { ok: true, retryable: false, statusCode: s, error: null, retryAfterMs: null, latencyMs: latency() };
    const retryable = s === 408 || s === 429 || s >= 500;
    const reason = s >= 300 && s < 400 ? 'redirects are not followed' : text.replace(/\s+/g, ' ').trim();
    return {
      ok: false,
      retryable,
      statusCode: s,
      error: `HTTP ${s}${reason ? `: ${reason}` : ''}`.slice(0, ERROR_TEXT_MAX),
      retryAfterMs: s === 429 || s === 503 ? parseRetryAfter(res.headers['retry-after']) : null,
      latencyMs: latency(),
    };
  } catch (err) {
    const refused = refusal(err);
    if (refused)
      return {
        ok: false,
        retryable: false,
        statusCode: null,
        error: `refused: ${refused.message}`,
        retryAfterMs: null,
        latencyMs: latency(),
      };
    return { ok: false, retryable: true, statusCode: null, error: networkError(err), retryAfterMs: null, latencyMs: latency() };
  }
}
