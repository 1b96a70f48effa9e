// What the worker claims: only the allowed task types (WORKER_TASK_TYPES, the
// per-task-type feature flag), and never more jobs per profile than its
// concurrency.
import { expect } from 'chai';
import { type AiServiceClient, createClient } from '../../src/client/index.ts';
import { setup, type TestService } from '../support/service.ts';
import { completion, finished, sendJson, type StubServer, startWorker, stubServer, type WorkerProcess } from './support.ts';

const PROVIDER_DELAY_MS = 300;

let ref = 0;
const job = (task_type: string, model_profile: string) => ({
  owner_service: 'test',
  owner_ref: `claim-${++ref}`,
  task_type,
  model_profile,
  input: { prompt: `${task_type} please`, model: model_profile },
});

describe('worker: claiming', () => {
  let t: TestService;
  let api: AiServiceClient;
  let vllm: StubServer;
  let worker: WorkerProcess | undefined;
  const openByModel = new Map<string, number>();
  const maxByModel = new Map<string, number>();

  before(async () => {
    t = await setup();
    api = createClient({ baseUrl: t.url });
    // A slow provider that counts how many calls per model are open at once.
    vllm = await stubServer(async (req, res) => {
      const { model } = JSON.parse(req.body.toString());
      const open = (openByModel.get(model) ?? 0) + 1;
      openByModel.set(model, open);
      maxByModel.set(model, Math.max(open, maxByModel.get(model) ?? 0));
      await new Promise((r) => setTimeout(r, PROVIDER_DELAY_MS));
      openByModel.set(model, openByModel.get(model)! - 1);
      sendJson(res, 200, completion('ok', model));
    });
  });
  afterEach(() => worker?.stop());
  after(async () => {
    await vllm?.close();
    await t?.close();
  });

  it('claims only the task types in WORKER_TASK_TYPES and leaves others untouched', async () => {
    worker = await startWorker({
      AI_SERVICE_URL: t.url,
      LLM_BASE_URL: `${vllm.url}/v1`,
      LLM_MODEL: 'flagged',
      WORKER_TASK_TYPES: 'summarize,translate',
    });
    // The other task type is older, so a worker ignoring the flag would claim it first.
    const other = await api.createJob(job('call_analysis', 'flagged'));
    const allowed = await api.createJob(job('summarize', 'flagged'));
    expect((await finished(api, allowed.id)).status).to.equal('completed');
    const untouched = await api.getJob(other.id);
    expect([untouched.status, untouched.attempts, untouched.worker_id]).to.deep.equal(['pending', 0, null]);
    expect(vllm.requests.map((r) => JSON.parse(r.body.toString()).messages[0].content)).to.deep.equal(['summarize please']);
  });

  it('never has more jobs of a profile in flight than its WORKER_CONCURRENCY', async () => {
    worker = await startWorker({
      AI_SERVICE_URL: t.url,
      LLM_BASE_URL: `${vllm.url}/v1`,
      LLM_PROFILES: 'conc-a,conc-b',
      WORKER_CONCURRENCY: '1,conc-b=3',
    });
    const created = await api.createJobBatch({
      jobs: [...Array(4)].flatMap(() => [job('chat', 'conc-a'), job('chat', 'conc-b'), job('chat', 'conc-b')]),
    });
    for (const j of created.jobs) expect((await finished(api, j.id)).status).to.equal('completed');
    // Upper bounds are the point; conc-b reaching more than 1 shows its lanes run in parallel at all.
    expect(maxByModel.get('conc-a')).to.equal(1);
    expect(maxByModel.get('conc-b')).to.be.within(2, 3);
  });
});
