// GET /api/v1/providers/status: is each AI provider behind the workers up?
//
// Guarantees: the checks run concurrently and each is bounded by
// PROVIDER_CHECK_TIMEOUT (one AbortSignal covers connect, headers and body), so
// the endpoint answers within about that bound even when a provider hangs; the
// answer is cached for PROVIDER_STATUS_CACHE_MS so a polling dashboard does not
// hammer the providers; nothing a provider sends is echoed, and no key or URL
// credential is ever returned or logged (endpoints are shown without userinfo
// or query, errors are fixed short strings).
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Agent } from 'undici';
import type { ProvidersConfig } from '../config.ts';
import { TtlCache } from '../lib/ttl-cache.ts';
import { basicAuth, elapsedMs, type ProbeResult, probe, publicEndpoint, requestUrl } from './probe.ts';

export const PROVIDER_STATUS_CACHE_MS = 5000;
/** A /models listing larger than this is not parsed (model_available is then false). */
export const MODELS_BODY_MAX_BYTES = 1024 * 1024;

export type ProviderName = 'llm' | 'whisperx' | 'openclaw';

export interface ProviderStatus {
  name: ProviderName;
  configured: boolean;
  status: 'up' | 'down' | 'not_configured';
  latency_ms: number | null;
  endpoint: string | null;
  model: string | null;
  model_available: boolean | null;
  error: string | null;
}

export interface ProviderStatusDoc {
  checked_at: string;
  providers: ProviderStatus[];
}

interface Target {
  name: ProviderName;
  url: string | undefined;
  /** OpenAI-compatible: GET {url}/models and look for `model` among data[].id. */
  openai: boolean;
  apiKey?: string;
  model?: string;
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

export class ProviderStatusService {
  private readonly targets: Target[];
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly agent: Agent;
  private readonly cache: TtlCache<ProviderStatusDoc>;
  private readonly last = new Map<ProviderName, string>();

  constructor(config: ProvidersConfig, logger: Logger, cacheMs = PROVIDER_STATUS_CACHE_MS) {
    this.timeoutMs = config.checkTimeoutMs;
    this.logger = logger;
    this.targets = [
      { name: 'llm', url: config.llmBaseUrl, openai: true, apiKey: config.llmApiKey, model: config.llmModel },
      { name: 'whisperx', url: config.whisperxUrl, openai: false },
      // No key of its own exists in config: the LLM key is not sent to another host.
      { name: 'openclaw', url: config.openclawUrl, openai: true, model: config.llmModel },
    ];
    const t = this.timeoutMs;
    this.agent = new Agent({ connect: { timeout: t }, headersTimeout: t, bodyTimeout: t, keepAliveTimeout: 4000 });
    this.cache = new TtlCache(cacheMs, () => this.checkAll());
  }

  status(): Promise<ProviderStatusDoc> {
    return this.cache.get();
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }

  private async checkAll(): Promise<ProviderStatusDoc> {
    const providers = await Promise.all(this.targets.map((t) => this.check(t)));
    for (const p of providers) this.logChange(p);
    return { checked_at: new Date().toISOString(), providers };
  }

  private async check(t: Target): Promise<ProviderStatus> {
    const base = { name: t.name, model: t.model ?? null, model_available: null, error: null };
    if (!t.url) return { ...base, configured: false, status: 'not_configured', latency_ms: null, endpoint: null };
    const auth = t.apiKey ? `Bearer ${t.apiKey}` : basicAuth(t.url);
    const o = {
      headers: { accept: 'application/json', 'user-agent': 'ai-service-status', ...(auth ? { authorization: auth } : {}) },
      signal: AbortSignal.timeout(this.timeoutMs),
      dispatcher: this.agent,
    };
    const start = performance.now();
    const entry = { ...base, configured: true, endpoint: publicEndpoint(t.url) };
    if (t.openai) {
      const r = await probe(requestUrl(t.url, '/models'), { ...o, maxBytes: MODELS_BODY_MAX_BYTES });
      const latency_ms = elapsedMs(start);
      if (r.status !== 200) return { ...entry, status: 'down', latency_ms, error: failure(r) };
      const ids = modelIds(r.body);
      const error = r.tooLarge ? 'models list too large' : ids ? null : 'unexpected models response';
      return { ...entry, status: 'up', latency_ms, model_available: ids?.includes(t.model!) ?? false, error };
    }
    // whisper-asr-webservice has no health route: its root (a redirect to /docs) or
    // its OpenAPI document answering at all means it is up.
    let r = await probe(requestUrl(t.url), { ...o, maxBytes: 0 });
    if (r.status !== undefined && !answers(r)) r = await probe(requestUrl(t.url, '/openapi.json'), { ...o, maxBytes: 0 });
    const latency_ms = elapsedMs(start);
    return answers(r) ? { ...entry, status: 'up', latency_ms } : { ...entry, status: 'down', latency_ms, error: failure(r) };
  }

  private logChange(p: ProviderStatus): void {
    const state = `${p.status} ${p.error ?? ''}`;
    if (this.last.get(p.name) === state) return;
    this.last.set(p.name, state);
    if (p.status === 'not_configured') return;
    const fields = { provider: p.name, endpoint: p.endpoint, status: p.status, error: p.error ?? undefined };
    if (p.status === 'down') this.logger.warn(fields, 'provider is down');
    else this.logger.info(fields, 'provider is up');
  }
}

const answers = (r: ProbeResult) => r.status !== undefined && r.status >= 200 && r.status < 400;
const failure = (r: ProbeResult) => r.error ?? `HTTP ${r.status}`;
