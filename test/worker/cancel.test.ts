// A job cancelled or retried while it runs: the worker learns at its next lease
// check (a heartbeat, at most LEASE_CHECK_MAX_MS apart, answered 409 lease_lost)
// and aborts the provider call instead of finishing work nobody wants.
import { once } from 'node:events';
import { expect } from 'chai';
import { type AiServiceClient, createClient } from '../../src/client/index.ts';
import { LEASE_CHECK_MAX_MS } from '../../src/worker/job-runner.ts';
import { setup, type TestService } from '../support/service.ts';
import { type StubServer, startWorker, stubServer, waitFor, type WorkerProcess } from './support.ts';

/** The bound the worker must meet: a cancel reaches the provider call within this. */
const CANCEL_REACHES_CALL_MS = 5000;

let ref = 0;
const chatJob = (profile: string) => ({
  owner_service: 'test',
  owner_ref: `cancel-${++ref}`,
  task_type: 'chat',
  model_profile: profile,
  input: { prompt: 'a long answer nobody will read' },
});

describe('worker: cancellation reaches a running job', () => {
  let t: TestService;
  let api: AiServiceClient;
  let llm: StubServer;
  let worker: WorkerProcess;
  /** When the provider saw each call closed by the worker without an answer. */
  const abortedAt: number[] = [];

  before(async () => {
    t = await setup();
    api = createClient({ baseUrl: t.url });
    // Never answers: a call ends only when the worker aborts it.
    llm = await stubServer(async (_req, res) => {
      await once(res, 'close');
      abortedAt.push(Date.now());
    });
    // A 5-minute lease: without the 4 s lease check the worker would learn only after 100 s.
    worker = await startWorker({ AI_SERVICE_URL: t.url, LLM_BASE_URL: `${llm.url}/v1`, LLM_PROFILES: 'cancel-a', WORKER_LEASE: '5m' });
  });
  after(async () => {
    await worker?.stop();
    await llm?.close();
    await t?.close();
  });

  it('checks the lease at least every 5 s', () => {
    expect(LEASE_CHECK_MAX_MS).to.be.below(CANCEL_REACHES_CALL_MS);
  });

  for (const [action, act] of [
    ['cancelled', (id: string) => api.cancelJob(id)],
    ['retried', (id: string) => api.retryJob(id)],
  ] as const) {
    it(`aborts the provider call within 5 s when the job is ${action} while it runs`, async () => {
      const calls = llm.requests.length;
      const job = await api.createJob(chatJob('cancel-a'));
      await waitFor('the provider call', () => llm.requests.length === calls + 1 && llm.open === 1);
      const aborts = abortedAt.length;
      const at = Date.now();
      await act(job.id);

      await waitFor('the call aborted', () => abortedAt.length === aborts + 1, CANCEL_REACHES_CALL_MS + 2000);
      expect(abortedAt.at(-1)! - at).to.be.below(CANCEL_REACHES_CALL_MS);
      const fin = await worker.waitForLog('job finished', (l) => l.msg === 'job finished' && l.jobId === job.id);
      expect(fin).to.include({ outcome: 'lease_lost' });
      if (action === 'retried') {
        // The retried job runs again: cancel it so the next test starts from an idle worker.
        await waitFor('the second attempt', () => llm.open === 1);
        await api.cancelJob(job.id);
        await waitFor('the second attempt aborted', () => llm.open === 0, CANCEL_REACHES_CALL_MS + 2000);
      }
    });
  }
});
