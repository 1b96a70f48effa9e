// One HTTP call to a provider with a deadline, shared by the provider clients.
// The whole exchange (connect, headers, body) must finish before `timeoutMs`;
// the caller's signal (job shutdown, lease lost) aborts it too and its reason is
// rethrown unchanged, so the caller can tell "we stopped" from "it timed out".
import { Agent, type Dispatcher, type FormData, request } from 'undici';
import { readCapped } from '../../lib/read-capped.ts';
import { fromStatus, fromThrown, ProviderError } from './errors.ts';

export interface ProviderCall {
  provider: string;
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** W3C trace context for the provider (the worker's provider-call span). */
  traceparent?: string;
  body?: string | FormData;
  timeoutMs: number;
  signal: AbortSignal;
  /** Replies larger than this are a provider_error (or the `tooLarge` error). */
  maxBytes: number;
  tooLarge?: (bytes: number) => ProviderError;
  /** Turns a non-2xx status into an error; defaults to fromStatus. */
  onStatus?: (status: number, retryAfter: unknown, body: string) => ProviderError;
  /** Sees each chunk of a 2xx body as it arrives (a streamed reply). */
  onChunk?: (chunk: Buffer) => void;
  dispatcher?: Dispatcher;
}

export interface ProviderReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * The dispatcher when the caller passes none. Not the process-wide global one: that
 * slot is shared with Node's built-in copy of undici (global fetch), which cannot
 * encode this copy's FormData and then sends the multipart upload as a body that
 * never ends, so the request hangs until its deadline.
 */
const DEFAULT_DISPATCHER = new Agent();

/** Replies that are not 2xx are read up to this much for their error text. */
const ERROR_BODY_MAX_BYTES = 64 * 1024;

export async function callProvider(c: ProviderCall): Promise<ProviderReply> {
  const deadline = AbortSignal.timeout(c.timeoutMs);
  const signal = AbortSignal.any([c.signal, deadline]);
  try {
    const res = await request(c.url, {
      method: c.method,
      headers: c.traceparent ? { ...c.headers, traceparent: c.traceparent } : c.headers,
      body: c.body,
      signal,
      dispatcher: c.dispatcher ?? DEFAULT_DISPATCHER,
    });
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    const declared = Number(res.headers['content-length']);
    const limit = ok ? c.maxBytes : ERROR_BODY_MAX_BYTES;
    if (ok && declared > limit) {
      res.body.destroy();
      throw tooLarge(c, declared);
    }
    // An error text needs no more than its first bytes; a reply over the limit is an error.
    const { data: body, over } = await readCapped(ok && c.onChunk ? tapped(res.body, c.onChunk) : res.body, limit);
    if (ok && over) throw tooLarge(c, limit + 1);
    if (!ok) {
      const onStatus = c.onStatus ?? ((s, r, b) => fromStatus(c.provider, s, r, b));
      throw onStatus(res.statusCode, res.headers['retry-after'], body.toString('utf8'));
    }
    return { status: res.statusCode, headers: res.headers, body };
  } catch (err) {
    if (c.signal.aborted) throw c.signal.reason;
    throw fromThrown(c.provider, err);
  }
}

/** `body`, handing each chunk to `onChunk` as it is read. */
function tapped(body: AsyncIterable<Buffer> & { destroy(): void }, onChunk: (chunk: Buffer) => void) {
  return {
    async *[Symbol.asyncIterator]() {
      for await (const chunk of body) {
        onChunk(chunk);
        yield chunk;
      }
    },
    destroy: () => body.destroy(),
  };
}

function tooLarge(c: ProviderCall, bytes: number): ProviderError {
  return c.tooLarge?.(bytes) ?? new ProviderError('provider_error', `${c.provider} reply is over ${c.maxBytes} bytes`);
}
