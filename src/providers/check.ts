// One health check of one provider: the check behind /api/v1/providers/status,
// shared with the reference worker's circuit breaker so both call a provider
// "up" on the same evidence. An OpenAI-compatible server (vLLM, OpenClaw) is up
// when GET {url}/models answers 200; WhisperX has no health route, so its root
// (a redirect to /docs) or its OpenAPI document answering at all means up.
// Bounded by one AbortSignal of `timeoutMs`; errors are short fixed strings.
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { basicAuth, elapsedMs, type ProbeResult, probe, requestUrl } from './probe.ts';

/** A /models listing larger than this is not parsed (model_available is then false). */
export const MODELS_BODY_MAX_BYTES = 1024 * 1024;

export interface ProviderTarget {
  url: string;
  /** OpenAI-compatible: GET {url}/models and look for `model` among data[].id. */
  openai: boolean;
  apiKey?: string;
  model?: string;
}

export interface CheckResult {
  status: 'up' | 'down';
  latency_ms: number;
  /** Whether /models lists the target's model; null when not an OpenAI-style target or down. */
  model_available: boolean | null;
  error: string | null;
}

export interface CheckOptions {
  timeoutMs: number;
  dispatcher: Dispatcher;
  userAgent: string;
}

/** The served model ids of an OpenAI-style /models answer, or undefined if it is not one. */
function modelIds(body: string | undefined): string[] | undefined {
  try {
    const data = JSON.parse(body ?? '')?.data;
    if (!Array.isArray(data)) return undefined;
    return data.map((m: { id?: unknown }) => m?.id).filter((id): id is string => typeof id === 'string');
  } catch {
    return undefined;
  }
}

export async function checkProvider(t: ProviderTarget, c: CheckOptions): Promise<CheckResult> {
  const auth = t.apiKey ? `Bearer ${t.apiKey}` : basicAuth(t.url);
  const o = {
    headers: { accept: 'application/json', 'user-agent': c.userAgent, ...(auth ? { authorization: auth } : {}) },
    signal: AbortSignal.timeout(c.timeoutMs),
    dispatcher: c.dispatcher,
  };
  const start = performance.now();
  if (t.openai) {
    const r = await probe(requestUrl(t.url, '/models'), { ...o, maxBytes: MODELS_BODY_MAX_BYTES });
    const latency_ms = elapsedMs(start);
    if (r.status !== 200) return { status: 'down', latency_ms, model_available: null, error: failure(r) };
    const ids = modelIds(r.body);
    const error = r.tooLarge ? 'models list too large' : ids ? null : 'unexpected models response';
    return { status: 'up', latency_ms, model_available: ids?.includes(t.model!) ?? false, error };
  }
  let r = await probe(requestUrl(t.url), { ...o, maxBytes: 0 });
  if (r.status !== undefined && !answers(r)) r = await probe(requestUrl(t.url, '/openapi.json'), { ...o, maxBytes: 0 });
  const latency_ms = elapsedMs(start);
  return answers(r)
    ? { status: 'up', latency_ms, model_available: null, error: null }
    : { status: 'down', latency_ms, model_available: null, error: failure(r) };
}

const answers = (r: ProbeResult) => r.status !== undefined && r.status >= 200 && r.status < 400;
const failure = (r: ProbeResult) => r.error ?? `HTTP ${r.status}`;
