// One delivery attempt over HTTP: POST with a total timeout, no redirects
// followed, and at most RESPONSE_PEEK_BYTES of the receiver's answer read.
import { request } from 'undici';

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

export async function postWebhook(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<AttemptResult> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  try {
    const res = await request(url, {
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
    return { ok: false, retryable: true, statusCode: null, error: networkError(err), retryAfterMs: null, latencyMs: latency() };
  }
}
