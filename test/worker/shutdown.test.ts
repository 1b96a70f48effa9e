// SIGTERM: the worker stops claiming, lets running jobs finish within the grace
// period, hands the rest back (retryable worker_shutdown, claimable at once),
// and exits 0.
import { expect } from 'chai';
import { type AiServiceClient, createClient, type Job } from '../../src/client/index.ts';
import { setup, type TestService } from '../support/service.ts';
import { completion, sendJson, type StubServer, startWorker, stubServer, waitFor, type WorkerProcess } from './support.ts';

let ref = 0;
const chatJob = (profile: string) => ({
  owner_service: 'test',
  owner_ref: `stop-${++ref}`,
  task_type: 'chat',
  model_profile: profile,
  input: { prompt: 'take your time' },
});

describe('worker: shutdown', () => {
  let t: TestService;
  let api: AiServiceClient;
  let worker: WorkerProcess | undefined;
  let vllm: StubServer | undefined;
  let release: () => void = () => {};

  before(async () => {
    t = await setup();
    api = createClient({ baseUrl: t.url });
  });
  beforeEach(async () => {
    const released = new Promise<void>((r) => {
      release = r;
    });
    vllm = await stubServer(async (_req, res) => {
      await released;
      sendJson(res, 200, completion('finished in time'));
    });
  });
  afterEach(async () => {
    release();
    await worker?.stop();
    await vllm?.close();
  });
  after(() => t?.close());

  const start = (profile: string, env: Record<string, string> = {}) =>
    startWorker({ AI_SERVICE_URL: t.url, LLM_BASE_URL: `${vllm!.url}/v1`, LLM_MODEL: profile, ...env });

  it('hands a job that outlives the grace period back as worker_shutdown, claimable at once, and exits 0', async () => {
    worker = await start('stop-a', { WORKER_SHUTDOWN_GRACE: '300ms' });
    const job = await api.createJob(chatJob('stop-a'));
    await waitFor('the provider call', () => vllm!.open === 1);
    worker.proc.kill('SIGTERM');
    expect(await worker.exited).to.equal(0);

    const back = (await api.getJob(job.id)) as Job & { attempts_history: { outcome: string }[] };
    expect(back.status).to.equal('pending');
    // a hand-back at shutdown is deferred: it gives its attempt back
    expect(back.attempts).to.equal(0);
    expect(back.deferrals).to.equal(1);
    expect(back.error).to.deep.equal({ category: 'worker_shutdown', message: 'the worker shut down before the job finished' });
    expect(back.attempts_history.map((a) => a.outcome)).to.deep.equal(['deferred']);
    const { jobs } = await api.claimJobs({ worker_id: 'next-worker', model_profiles: ['stop-a'] });
    expect(jobs.map((j) => [j.id, j.attempt])).to.deep.equal([[job.id, 1]]);
    const fin = worker.logs.find((l) => l.msg === 'job finished');
    expect(fin).to.include({ jobId: job.id, outcome: 'retried', category: 'worker_shutdown' });
  });

  it('lets a running job finish within the grace period and claims nothing new', async () => {
    worker = await start('stop-b', { WORKER_SHUTDOWN_GRACE: '15s', WORKER_CONCURRENCY: '2' });
    const job = await api.createJob(chatJob('stop-b'));
    await waitFor('the provider call', () => vllm!.open === 1);
    worker.proc.kill('SIGTERM');
    await worker.waitForLog('stopping', (l) => l.msg === 'stopping: no new claims');
    const later = await api.createJob(chatJob('stop-b'));
    release();
    expect(await worker.exited).to.equal(0);

    expect((await api.getJob(job.id)).status).to.equal('completed');
    const untouched = await api.getJob(later.id);
    expect([untouched.status, untouched.attempts]).to.deep.equal(['pending', 0]);
  });

  it('answers /healthz with 503 draining while it finishes a job after SIGTERM', async () => {
    worker = await start('stop-d', { WORKER_SHUTDOWN_GRACE: '15s', WORKER_METRICS_PORT: '0', WORKER_METRICS_HOST: '127.0.0.1' });
    const { port } = await worker.waitForLog('metrics', (l) => l.msg === 'worker health and metrics listening');
    const healthz = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      return { status: res.status, body: (await res.json()) as { status: string; lanes: { state: string }[] } };
    };
    const job = await api.createJob(chatJob('stop-d'));
    await waitFor('the provider call', () => vllm!.open === 1);
    expect(await healthz()).to.deep.equal({
      status: 200,
      body: { status: 'ok', lanes: [{ model_profile: 'stop-d', state: 'claiming', in_flight: 1 }] },
    });
    worker.proc.kill('SIGTERM');
    await worker.waitForLog('stopping', (l) => l.msg === 'stopping: no new claims');
    const draining = await waitFor('draining lane', async () => {
      const h = await healthz();
      return h.body.lanes[0].state === 'draining' ? h : undefined;
    });
    expect(draining).to.deep.equal({
      status: 503,
      body: { status: 'draining', lanes: [{ model_profile: 'stop-d', state: 'draining', in_flight: 1 }] },
    });
    expect((await fetch(`http://127.0.0.1:${port}/nothing`)).status).to.equal(404);
    release();
    expect(await worker.exited).to.equal(0);
    expect((await api.getJob(job.id)).status).to.equal('completed');
  });

  it('exits 0 promptly when idle, ending its open long-poll claim', async () => {
    worker = await start('stop-c', { WORKER_CLAIM_WAIT: '30s' });
    const server = t.service.server!;
    const connections = () => new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
    await worker.waitForLog('started', (l) => l.msg === 'worker started');
    await waitFor('the long-poll claim to be open', async () => (await connections()) >= 1);
    worker.proc.kill('SIGTERM');
    const code = await Promise.race([worker.exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    expect(code).to.equal(0);
  });
});
