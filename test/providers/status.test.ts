import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.ts';
import { MODELS_BODY_MAX_BYTES } from '../../src/providers/check.ts';
import { ProviderStatusService } from '../../src/providers/status.ts';
import { waitFor } from '../support/wait.ts';
import { captureLogger, setup } from '../support/service.ts';
import { type Fake, fakeServer, fakeVllm, hangingServer, refusedUrl } from './fakes.ts';

const KEY = 'sk-test-7f3a9c2e1b';
const MODEL = 'qwen2.5-14b';

describe('provider status', () => {
  const fakes: Fake[] = [];
  const services: ProviderStatusService[] = [];
  const start = async (f: Promise<Fake>) => {
    const fake = await f;
    fakes.push(fake);
    return fake;
  };
  const check = async (env: Record<string, string>, cacheMs?: number) => {
    const { logger, lines } = captureLogger('debug');
    const s = new ProviderStatusService(loadConfig({ LLM_MODEL: MODEL, ...env }).providers, logger, cacheMs);
    services.push(s);
    const doc = await s.status();
    const byName = Object.fromEntries(doc.providers.map((p) => [p.name, p]));
    return { doc, byName, logs: lines, service: s };
  };
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.close()));
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });

  it('reports every provider as not_configured when no URL is set', async () => {
    const { doc } = await check({});
    expect(doc.providers.map((p) => [p.name, p.configured, p.status])).to.deep.equal([
      ['llm', false, 'not_configured'],
      ['whisperx', false, 'not_configured'],
      ['openclaw', false, 'not_configured'],
    ]);
  });

  it('reports the LLM up, with the model available, when /models answers 200 to the key', async () => {
    const vllm = await start(fakeVllm({ key: KEY, models: ['other', MODEL] }));
    const { byName } = await check({ LLM_BASE_URL: `${vllm.url}/v1`, LLM_API_KEY: KEY });
    expect(byName.llm).to.include({
      configured: true,
      status: 'up',
      endpoint: `${vllm.url}/v1`,
      model: MODEL,
      model_available: true,
      error: null,
    });
    expect(byName.llm.latency_ms).to.be.a('number').and.at.least(0);
    expect(vllm.requests[0].headers.authorization).to.equal(`Bearer ${KEY}`);
  });

  it('reports the model as unavailable when the server does not list it', async () => {
    const vllm = await start(fakeVllm({ models: ['llama-3-8b'] }));
    const { byName } = await check({ LLM_BASE_URL: `${vllm.url}/v1` });
    expect(byName.llm).to.include({ status: 'up', model: MODEL, model_available: false });
  });

  it('reports down with HTTP 401 for a wrong key, and echoes nothing the server said', async () => {
    const vllm = await start(fakeVllm({ key: KEY, models: [MODEL] }));
    const { doc, byName, logs } = await check({ LLM_BASE_URL: `${vllm.url}/v1`, LLM_API_KEY: 'sk-wrong-key-0000' });
    expect(byName.llm).to.include({ status: 'down', error: 'HTTP 401', model_available: null });
    expect(JSON.stringify(doc) + logs.join('')).to.not.match(/sk-wrong-key-0000|invalid key/);
  });

  it('never returns or logs the key or URL credentials, and shows the endpoint without userinfo or query', async () => {
    const vllm = await start(fakeVllm({ key: KEY, models: [MODEL] }));
    const claw = await start(fakeVllm({ models: [MODEL] }));
    const whisper = await start(fakeServer((_req, res) => res.writeHead(307, { location: '/docs' }).end()));
    const host = vllm.url.slice('http://'.length);
    const { doc, byName, logs } = await check({
      LLM_BASE_URL: `http://llmuser:llm-pass-5521@${host}/v1?api-token=query-secret-9`,
      LLM_API_KEY: KEY,
      WHISPERX_URL: `http://wx:wx-pass-8812@${whisper.url.slice('http://'.length)}`,
      OPENCLAW_URL: `http://claw:claw-pass-3301@${claw.url.slice('http://'.length)}/v1`,
    });
    expect(byName.llm).to.include({ status: 'up', endpoint: `${vllm.url}/v1` });
    expect(byName.whisperx).to.include({ status: 'up', endpoint: whisper.url });
    expect(byName.openclaw).to.include({ status: 'up', endpoint: `${claw.url}/v1`, model_available: true });
    // The LLM key is for the LLM only: OpenClaw gets its URL's own credentials.
    expect(claw.requests[0].headers.authorization).to.equal(`Basic ${Buffer.from('claw:claw-pass-3301').toString('base64')}`);
    // The query is kept on the request (some gateways need it); userinfo becomes Basic auth.
    expect(vllm.requests[0].url).to.equal('/v1/models?api-token=query-secret-9');
    expect(whisper.requests[0].headers.authorization).to.equal(`Basic ${Buffer.from('wx:wx-pass-8812').toString('base64')}`);
    const seen = JSON.stringify(doc) + logs.join('');
    expect(logs.join('')).to.include('provider is up');
    for (const secret of [KEY, 'llm-pass-5521', 'llmuser', 'query-secret-9', 'wx-pass-8812', 'claw-pass-3301'])
      expect(seen, secret).to.not.include(secret);
  });

  it('reports connection refused', async () => {
    const { byName } = await check({ WHISPERX_URL: await refusedUrl() });
    expect(byName.whisperx).to.include({ status: 'down', error: 'connection refused' });
  });

  it('answers within PROVIDER_CHECK_TIMEOUT when every provider hangs, checking them concurrently', async () => {
    const hang = await start(hangingServer());
    const t0 = performance.now();
    const { byName } = await check({
      PROVIDER_CHECK_TIMEOUT: '400ms',
      LLM_BASE_URL: `${hang.url}/v1`,
      WHISPERX_URL: hang.url,
      OPENCLAW_URL: `${hang.url}/v1`,
    });
    const elapsed = performance.now() - t0;
    for (const name of ['llm', 'whisperx', 'openclaw']) {
      expect(byName[name], name).to.include({ status: 'down', error: 'timeout' });
      expect(byName[name].latency_ms, name).to.be.within(350, 1200);
    }
    // Three sequential checks would take 1.2 s or more; concurrent ones take one timeout.
    expect(elapsed).to.be.below(1200);
    expect(hang.requests).to.have.length(3);
  });

  it('counts WhisperX up when its root redirects, or failing that when /openapi.json answers', async () => {
    const redirect = await start(fakeServer((req, res) => res.writeHead(req.url === '/' ? 307 : 404).end()));
    const docsOnly = await start(fakeServer((req, res) => res.writeHead(req.url === '/openapi.json' ? 200 : 404).end('{}')));
    const broken = await start(fakeServer((_req, res) => res.writeHead(502).end('bad gateway')));
    for (const [fake, status, error] of [
      [redirect, 'up', null],
      [docsOnly, 'up', null],
      [broken, 'down', 'HTTP 502'],
    ] as const) {
      const { byName } = await check({ WHISPERX_URL: fake.url });
      expect(byName.whisperx, fake.url).to.include({ status, error, model: null, model_available: null });
    }
    expect(docsOnly.requests.map((r) => r.url)).to.deep.equal(['/', '/openapi.json']);
  });

  it(`does not parse a /models answer over ${MODELS_BODY_MAX_BYTES} bytes`, async () => {
    const vllm = await start(fakeVllm({ models: [MODEL], padBytes: MODELS_BODY_MAX_BYTES }));
    const { byName } = await check({ LLM_BASE_URL: `${vllm.url}/v1` });
    expect(byName.llm).to.include({ status: 'up', model_available: false, error: 'models list too large' });
  });

  it('caches the answer, so polling does not hit the providers on every request', async () => {
    const vllm = await start(fakeVllm({ models: [MODEL] }));
    const { service } = await check({ LLM_BASE_URL: `${vllm.url}/v1` }, 200);
    await Promise.all([service.status(), service.status(), service.status()]);
    expect(vllm.requests).to.have.length(1);
    await waitFor('the cache to expire', async () => {
      await service.status();
      return vllm.requests.length === 2 ? true : undefined;
    });
  });

  describe('GET /api/v1/providers/status', () => {
    it('returns the documented document and keeps secrets out of it and of the logs', async () => {
      const vllm = await start(fakeVllm({ key: KEY, models: [MODEL] }));
      const t = await setup({ LLM_BASE_URL: `http://u:url-pass-4417@${vllm.url.slice(7)}/v1`, LLM_API_KEY: KEY, LLM_MODEL: MODEL });
      try {
        const res = await t.api.get('/api/v1/providers/status');
        expect(res.status).to.equal(200);
        expect(res.body.providers.map((p: any) => [p.name, p.status])).to.deep.equal([
          ['llm', 'up'],
          ['whisperx', 'not_configured'],
          ['openclaw', 'not_configured'],
        ]);
        expect(res.body.providers[0].model_available).to.equal(true);
        for (const secret of [KEY, 'url-pass-4417']) {
          expect(res.text).to.not.include(secret);
          expect(t.logs.join('')).to.not.include(secret);
        }
      } finally {
        await t.close();
      }
    });
  });
});
