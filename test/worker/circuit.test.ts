// The circuit breaker of one lane: after WORKER_CIRCUIT_THRESHOLD consecutive
// infrastructure failures the lane stops claiming, hands back what it holds, and
// only probes the provider until it answers; then it claims one job (half-open)
// before claiming in full. Another lane keeps working all along, and the worker's
// /healthz and /metrics show the lane states.
import { once } from 'node:events';
import { expect } from 'chai';
import { type AiServiceClient, createClient, type Job } from '../../src/client/index.ts';
import { setup, type TestService } from '../support/service.ts';
import { completion, sendJson, type StubServer, startWorker, stubServer, waitFor, type WorkerProcess } from './support.ts';

const DOWN = 'lane-down';
const UP = 'lane-up';
let ref = 0;
/** The stand-in LLM tells the lanes apart by the model each job asks for. */
const chatJob = (profile: string, prompt: string, extra: Record<string, unknown> = {}) => ({
  owner_service: 'test',
  owner_ref: `circuit-${++ref}`,
  task_type: 'chat',
  model_profile: profile,
  input: { prompt, model: `${profile}-model` },
  ...extra,
});

interface Lanes {
  status: string;
  lanes: { model_profile: string; state: string; in_flight: number }[];
}

describe('worker: circuit breaker per lane', () => {
  let t: TestService;
  let api: AiServiceClient;
  let llm: StubServer;
  let worker: WorkerProcess;
  let healthUrl: string;
  let providerDown = true;
  let release: () => void = () => {};
  let released = Promise.resolve();
  const aborted: string[] = [];

  const chats = (profile: string) => llm.requests.filter((r) => r.url === '/v1/chat/completions' && r.body.includes(`"${profile}-model"`));
  const probes = () => llm.requests.filter((r) => r.method === 'GET' && r.url === '/v1/models');
  const health = async (): Promise<Lanes> => (await fetch(`${healthUrl}/healthz`)).json() as Promise<Lanes>;
  const lane = async (profile: string) => (await health()).lanes.find((l) => l.model_profile === profile)!;
  const metrics = async () => (await fetch(`${healthUrl}/metrics`)).text();

  before(async () => {
    t = await setup();
    api = createClient({ baseUrl: t.url });
    llm = await stubServer(async (req, res) => {
      if (req.method === 'GET') {
        if (providerDown) return void res.writeHead(503).end();
        return sendJson(res, 200, { object: 'list', data: [{ id: 'qwen2.5-14b', object: 'model' }] });
      }
      const body = JSON.parse(req.body.toString('utf8'));
      const prompt = body.messages.at(-1).content as string;
      if (body.model === `${DOWN}-model`) {
        if (providerDown && prompt !== 'hold') return void res.writeHead(503).end();
        // Held until released, or until the worker gives up on the call.
        const closed = once(res, 'close').then(() => 'closed');
        if ((await Promise.race([closed, released.then(() => 'released')])) === 'closed') return void aborted.push(prompt);
      }
      sendJson(res, 200, completion(`answer to ${prompt}`));
    });
    worker = await startWorker({
      AI_SERVICE_URL: t.url,
      LLM_BASE_URL: `${llm.url}/v1`,
      LLM_PROFILES: `${DOWN},${UP}`,
      WORKER_CONCURRENCY: `1,${DOWN}=2`,
      WORKER_CIRCUIT_THRESHOLD: '3',
      WORKER_PROBE_INTERVAL: '200ms',
      WORKER_PROBE_INTERVAL_MAX: '400ms',
      WORKER_CLAIM_WAIT: '2s',
      WORKER_METRICS_PORT: '0',
      WORKER_METRICS_HOST: '127.0.0.1',
    });
    const listening = await worker.waitForLog('metrics listening', (l) => l.msg === 'worker health and metrics listening');
    healthUrl = `http://127.0.0.1:${listening.port}`;
  });
  after(async () => {
    release();
    await worker?.stop();
    await llm?.close();
    await t?.close();
  });

  it('opens after 3 infrastructure failures and hands back the job it holds', async () => {
    released = new Promise<void>((r) => {
      release = r;
    });
    const held = await api.createJob(chatJob(DOWN, 'hold', { max_attempts: 5 }));
    await waitFor('the held call', () => chats(DOWN).length === 1);
    expect(await lane(DOWN)).to.deep.equal({ model_profile: DOWN, state: 'claiming', in_flight: 1 });
    const failing = [];
    for (let i = 0; i < 3; i++) failing.push(await api.createJob(chatJob(DOWN, `fail-${i}`, { max_attempts: 1 })));

    await waitFor('the circuit to open', async () => (await lane(DOWN)).state === 'open');
    await waitFor('the held job handed back', async () => (await api.getJob(held.id)).status === 'pending');
    const back = await api.getJob(held.id);
    expect(back.error?.category).to.equal('provider_unavailable');
    expect(back.error?.message).to.match(/circuit for lane-down opened/);
    await waitFor('the held call aborted', () => aborted.includes('hold'));
    // Infrastructure failures are deferred, not counted: a deferred job may come back
    // (after the service's short backoff) and fail again before the circuit opens, so the
    // three failures are counted over the jobs, each recorded as provider_unavailable.
    const after = await Promise.all(failing.map((f) => api.getJob(f.id)));
    expect(after.reduce((n, j) => n + j.deferrals, 0)).to.equal(3);
    for (const j of after) if (j.deferrals) expect(j).to.include({ status: 'pending', attempts: 0 });
    for (const j of after) if (j.deferrals) expect(j.error?.category).to.equal('provider_unavailable');
    expect(chats(DOWN)).to.have.length(4);
  });

  it('only probes the provider while open, and the other lane keeps working', async () => {
    const waiting = await api.createJob(chatJob(DOWN, 'after the outage'));
    const before = probes().length;
    const other = await api.createJob(chatJob(UP, 'meanwhile'));
    const done = await waitFor('the other lane', async () => {
      const j = await api.getJob(other.id);
      return j.status === 'completed' ? j : undefined;
    });
    expect(done.result!.content).to.equal('answer to meanwhile');
    await waitFor('three more probes', () => probes().length >= before + 3);

    expect(chats(DOWN)).to.have.length(4);
    expect((await api.getJob(waiting.id)).status).to.equal('pending');
    const text = await metrics();
    expect(text).to.include(`ai_worker_lane_state{model_profile="${DOWN}",state="open"} 1`);
    expect(text).to.include(`ai_worker_lane_state{model_profile="${UP}",state="claiming"} 1`);
    expect(text).to.include(`ai_worker_circuit_opened_total{model_profile="${DOWN}"} 1`);
    expect(text).to.match(/ai_worker_provider_probes_total\{model_profile="lane-down",result="down"\} [3-9]/);
    expect(text).to.include(`ai_worker_jobs_finished_total{model_profile="${UP}",outcome="completed",category=""} 1`);
    const h = await health();
    expect(h.status).to.equal('ok');
    expect(h.lanes.map((l) => [l.model_profile, l.state])).to.deep.equal([
      [DOWN, 'open'],
      [UP, 'claiming'],
    ]);
  });

  it('resumes when the provider answers: one job first (half-open), then in full', async () => {
    released = new Promise<void>((r) => {
      release = r;
    });
    const more = [];
    for (let i = 0; i < 3; i++) more.push(await api.createJob(chatJob(DOWN, `more-${i}`)));
    const pendingDown = async () => (await api.listJobs({ model_profile: DOWN, status: 'pending' })).jobs.length;
    const pendingBefore = await pendingDown();
    const callsBefore = chats(DOWN).length;
    providerDown = false;

    await waitFor('the half-open call', async () => (await lane(DOWN)).state === 'half_open' && chats(DOWN).length > callsBefore);
    expect(await lane(DOWN)).to.deep.equal({ model_profile: DOWN, state: 'half_open', in_flight: 1 });
    expect(await pendingDown()).to.equal(pendingBefore - 1);

    release();
    await waitFor('the circuit to close', async () => (await lane(DOWN)).state === 'claiming');
    for (const j of more) {
      const done = await waitFor(`job ${j.id}`, async () => {
        const got: Job = await api.getJob(j.id);
        return got.status === 'completed' ? got : undefined;
      });
      expect(done.attempts).to.equal(1);
    }
    const text = await metrics();
    expect(text).to.include(`ai_worker_lane_state{model_profile="${DOWN}",state="claiming"} 1`);
    expect(text).to.match(/ai_worker_provider_probes_total\{model_profile="lane-down",result="up"\} 1\n/);
  });
});
