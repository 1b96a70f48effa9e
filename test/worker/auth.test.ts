// The worker against a service with access control on: it authenticates with
// AI_SERVICE_TOKEN (a `worker` token), and a bad token is logged as an error
// and retried with backoff, never crashing the worker or printing the token.
import { expect } from 'chai';
import { createClient } from '../../src/client/index.ts';
import { setup, type TestService } from '../support/service.ts';
import { completion, finished, sendJson, type StubServer, startWorker, stubServer, type WorkerProcess } from './support.ts';

const WORKER_TOKEN = 'worker-token-0123456789abcdef';
const PRODUCER_TOKEN = 'producer-token-0123456789abcdef';
const WRONG_TOKEN = 'wrong-token-0123456789abcdef';

describe('worker: with access control on', () => {
  let t: TestService;
  let vllm: StubServer;
  let worker: WorkerProcess | undefined;

  before(async () => {
    const tokens = [
      { name: 'gpu', role: 'worker', model_profiles: ['auth-model'], token: WORKER_TOKEN },
      { name: 'tests', role: 'producer', owner_services: ['test'], token: PRODUCER_TOKEN },
    ];
    t = await setup({ API_TOKENS: JSON.stringify(tokens) });
    // Slower than the 2 s lease, so the job only completes if its heartbeats are accepted.
    vllm = await stubServer(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 2500));
      sendJson(res, 200, completion('authorised'));
    });
  });
  afterEach(() => worker?.stop());
  after(async () => {
    await vllm?.close();
    await t?.close();
  });

  const start = (token: string) =>
    startWorker({
      AI_SERVICE_URL: t.url,
      AI_SERVICE_TOKEN: token,
      LLM_BASE_URL: `${vllm.url}/v1`,
      LLM_MODEL: 'auth-model',
      WORKER_LEASE: '2s',
    });

  it('claims, heartbeats and completes with its worker token', async () => {
    worker = await start(WORKER_TOKEN);
    const api = createClient({ baseUrl: t.url, token: PRODUCER_TOKEN });
    const job = await api.createJob({
      owner_service: 'test',
      owner_ref: 'auth-1',
      task_type: 'chat',
      model_profile: 'auth-model',
      input: { prompt: 'hi' },
    });
    const done = await finished(api, job.id);
    expect([done.status, done.attempts, done.result!.content]).to.deep.equal(['completed', 1, 'authorised']);
  });

  it('logs a refused claim as an error and keeps retrying, without printing the token', async () => {
    worker = await start(WRONG_TOKEN);
    const refused = () => worker!.logs.filter((l) => l.msg === 'claim failed; backing off');
    await worker.waitForLog('two refused claims', () => refused().length >= 2);
    expect(refused()[0]).to.deep.include({ level: 50 });
    expect((refused()[0].error as { message: string }).message).to.match(/^claimJobs: 401 unauthorized/);
    expect(worker.proc.exitCode).to.equal(null);
    expect(JSON.stringify(worker.logs)).to.not.include(WRONG_TOKEN);
  });
});
