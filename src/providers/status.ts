// GET /api/v1/providers/status: is each AI provider behind the workers up?
//
// Guarantees: the checks run concurrently and each is bounded by
// PROVIDER_CHECK_TIMEOUT (one AbortSignal covers connect, headers and body), so
// the endpoint answers within about that bound even when a provider hangs; the
// answer is cached for PROVIDER_STATUS_CACHE_MS so a polling dashboard does not
// hammer the providers; nothing a provider sends is echoed, and no key or URL
// credential is ever returned or logged (endpoints are shown without userinfo
// or query, errors are fixed short strings).
import type { Logger } from 'pino';
import { Agent } from 'undici';
import type { ProvidersConfig } from '../config.ts';
import { TtlCache } from '../lib/ttl-cache.ts';
import { checkProvider } from './check.ts';
import { publicEndpoint } from './probe.ts';

export const PROVIDER_STATUS_CACHE_MS = 5000;
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
    const target = { url: t.url, openai: t.openai, apiKey: t.apiKey, model: t.model };
    const r = await checkProvider(target, { timeoutMs: this.timeoutMs, dispatcher: this.agent, userAgent: 'ai-service-status' });
    return { ...base, configured: true, endpoint: publicEndpoint(t.url), ...r };
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
