// What the worker does when things are down: the provider (retries, then the
// job fails with provider_unavailable) or the service itself (back off, keep
// running, pick up work once it is back); and routing through OpenClaw.
import { expect } from 'chai';
import { type AiServiceClient, createClient } from '../../src/client/index.ts';
import { setup, type TestService } from '../support/service.ts';
import { completion, finished, freePort, sendJson, type StubServer, startWorker, stubServer, type WorkerProcess } from './support.ts';

let ref = 0;
const chatJob = (profile: string, extra: Record<string, unknown> = {}) => ({
  owner_service: 'test',
  owner_ref: `res-${++ref}`,
  task_type: 'chat',
  model_profile: profile,
  input: { prompt: 'hello' },
  ...extra,
});

describe('worker: resilience', () => {
  let t: TestService;
  let api: AiServiceClient;
  const workers: WorkerProcess[] = [];
  const stubs: StubServer[] = [];

  before(async () => {
    t = await setup();
    api = createClient({ baseUrl: t.url });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await Promise.all(stubs.splice(0).map((s) => s.close()));
  });
  after(() => t?.close());

  it('retries while the provider is down, then fails the job with provider_unavailable', async () => {
    const down = await freePort();
    workers.push(await startWorker({ AI_SERVICE_URL: t.url, LLM_BASE_URL: `http://127.0.0.1:${down}/v1`, LLM_MODEL: 'down-model' }));
    // max_deferrals 0: every provider_unavailable counts, so the worker's retry path runs to the end
    const job = await api.createJob(chatJob('down-model', { max_attempts: 3, max_deferrals: 0 }));
    const done = await finished(api, job.id);
    expect(done.status).to.equal('failed');
    expect(done.attempts).to.equal(3);
    expect(done.error).to.deep.equal({ category: 'provider_unavailable', message: 'llm: connection refused (ECONNREFUSED)' });
    const outcomes = (done as any).attempts_history.map((a: any) => [a.outcome, a.error.category]);
    expect(outcomes).to.deep.equal([
      ['retried', 'provider_unavailable'],
      ['retried', 'provider_unavailable'],
      ['failed', 'provider_unavailable'],
    ]);
  });

  it('routes LLM calls through OPENCLAW_URL when it is set', async () => {
    const vllm = await stubServer((_req, res) => sendJson(res, 200, completion('from vllm')));
    const gateway = await stubServer((_req, res) => sendJson(res, 200, completion('from gateway', 'openclaw:main')));
    stubs.push(vllm, gateway);
    workers.push(
      await startWorker({
        AI_SERVICE_URL: t.url,
        LLM_BASE_URL: `${vllm.url}/v1`,
        LLM_API_KEY: 'vllm-key',
        OPENCLAW_URL: `${gateway.url}/v1`,
        OPENCLAW_TOKEN: 'gateway-token',
        LLM_PROFILES: 'gw-model',
      }),
    );
    const done = await finished(api, (await api.createJob(chatJob('gw-model'))).id);
    expect(done.result).to.deep.include({ content: 'from gateway', model: 'openclaw:main' });
    expect(vllm.requests).to.have.length(0);
    expect(gateway.requests.map((r) => [r.url, r.headers.authorization])).to.deep.equal([['/v1/chat/completions', 'Bearer gateway-token']]);
  });

  it('backs off while the service is unreachable without exiting, and works once it is up', async () => {
    const port = await freePort();
    const vllm = await stubServer((_req, res) => sendJson(res, 200, completion('late but fine')));
    stubs.push(vllm);
    const worker = await startWorker({
      AI_SERVICE_URL: `http://127.0.0.1:${port}`,
      LLM_BASE_URL: `${vllm.url}/v1`,
      LLM_MODEL: 'late-model',
    });
    workers.push(worker);
    const backoffs = () => worker.logs.filter((l) => l.msg === 'claim failed; backing off');
    await worker.waitForLog('two failed claims', () => backoffs().length >= 2);
    expect(backoffs()[0]).to.deep.include({
      error: { name: 'Error', code: 'ECONNREFUSED', message: `connect ECONNREFUSED 127.0.0.1:${port}` },
    });
    expect(backoffs()[1].retry_in_ms).to.be.within(250, 1000);

    const late = await setup({ HTTP_PORT: String(port) });
    try {
      const lateApi = createClient({ baseUrl: late.url });
      const done = await finished(lateApi, (await lateApi.createJob(chatJob('late-model'))).id, 40_000);
      expect(done.result!.content).to.equal('late but fine');
      expect(worker.proc.exitCode).to.equal(null);
    } finally {
      await worker.stop();
      await late.close();
    }
  });
});
