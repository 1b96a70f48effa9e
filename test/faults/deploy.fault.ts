// Scenario 6: heartbeats just before and just after a lease ends. Scenario 7: a
// replica receiving SIGTERM under load (a rolling deploy): in-flight requests
// finish and no accepted request sees its connection reset.
import { expect } from 'chai';
import { Agent, request } from 'undici';
import { waitUntil } from '../support/wait.ts';
import { call, checkConsistency, faultScenario, sql } from './harness.ts';

const at = (iso: string) => Date.parse(iso);
const until = (ms: number) => waitUntil(async () => Date.now() >= ms, { intervalMs: 5, what: 'a point in time' });

describe('fault: lease edges and graceful deploys', function () {
  this.timeout(120_000);
  const scenario = faultScenario();
  /** Ends a test's load loops, also when the test fails before it ends them itself. */
  let stop = false;
  afterEach(() => {
    stop = true;
  });

  it('extends a lease heartbeated just before it ends and refuses one just after, re-queuing the job', async () => {
    const r = await scenario.replica();
    const job = await call(`${r.url}/api/v1/jobs`, 'POST', {
      owner_service: 'faults',
      owner_ref: 'edge',
      task_type: 'edge',
      model_profile: 'edge-m',
      input: {},
    });
    const claimed = (await call(`${r.url}/api/v1/jobs/claim`, 'POST', { worker_id: 'w', model_profiles: ['edge-m'], lease_seconds: 2 }))
      .body.jobs[0];
    const hb = `${r.url}/api/v1/jobs/${job.body.id}/heartbeat`;

    await until(at(claimed.lease_expires_at) - 300);
    const before = await call(hb, 'POST', { lease_token: claimed.lease_token, lease_seconds: 1 });
    expect(before.status).to.equal(200);
    expect(at(before.body.lease_expires_at)).to.be.greaterThan(at(claimed.lease_expires_at) - 300);

    await until(at(before.body.lease_expires_at) + 50);
    const afterEnd = await call(hb, 'POST', { lease_token: claimed.lease_token });
    expect(afterEnd.status).to.equal(409);
    expect(afterEnd.body.code).to.equal('lease_lost');

    const requeued = await waitUntil(
      async () => {
        const j = (await call(`${r.url}/api/v1/jobs/${job.body.id}`, 'GET')).body;
        return j.status === 'pending' ? j : undefined;
      },
      { what: 'the reaper re-queues the job' },
    );
    expect(requeued.error.category).to.equal('lease_expired');
    expect(requeued.attempts).to.equal(1);
    const again = (await call(`${r.url}/api/v1/jobs/claim`, 'POST', { worker_id: 'w2', model_profiles: ['edge-m'] })).body.jobs[0];
    expect(again.attempt).to.equal(2);
    r.kill('SIGTERM');
    expect(await r.exited).to.equal(0);
  });

  it('finishes in-flight requests and resets no accepted connection on SIGTERM', async () => {
    const r = await scenario.replica({ SHUTDOWN_TIMEOUT: '10s', SHUTDOWN_DELAY: '1s' });
    // One connection per request: an error can then only mean the server dropped a
    // request it had accepted (reset) or refused a new connection once closed (refused).
    const agent = new Agent({ pipelining: 0 });
    const outcomes: { status?: number; error?: string; id?: string }[] = [];
    stop = false;
    let n = 0;
    // The load balancer: stops routing to the replica once its /readyz fails.
    let routed = true;
    const balancer = (async () => {
      while (routed && !stop) {
        const ready = await call(`${r.url}/readyz`, 'GET', undefined, 1000);
        if (ready.status !== 200) routed = false;
        else await new Promise((res) => setTimeout(res, 100));
      }
    })();
    const client = async () => {
      while (!stop && routed) {
        try {
          const res = await request(`${r.url}/api/v1/jobs`, {
            method: 'POST',
            dispatcher: agent,
            reset: true,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              owner_service: 'faults',
              owner_ref: `deploy-${n++}`,
              task_type: 'deploy',
              model_profile: 'deploy-m',
              input: {},
            }),
          });
          const body = (await res.body.json()) as { id?: string };
          outcomes.push({ status: res.statusCode, id: body.id });
        } catch (err: any) {
          outcomes.push({ error: err?.code ?? err?.cause?.code ?? String(err) });
          if (err?.code === 'ECONNREFUSED' || err?.cause?.code === 'ECONNREFUSED') return;
        }
      }
    };
    // A long-poll claim in flight when the signal arrives must still get its answer.
    const longPoll = call(`${r.url}/api/v1/jobs/claim`, 'POST', { worker_id: 'lp', model_profiles: ['nothing-here'], wait_seconds: 20 });
    const clients = Array.from({ length: 8 }, client);
    await waitUntil(async () => outcomes.filter((o) => o.status === 201).length >= 100, { what: 'load before the deploy' });
    r.kill('SIGTERM');
    expect(await r.exited).to.equal(0);
    stop = true;
    await Promise.all([...clients, balancer]);
    await agent.close();
    expect(routed, 'the balancer saw readiness fail before the replica exited').to.equal(false);

    const lp = await longPoll;
    expect(lp.status).to.equal(200);
    expect(lp.body.jobs).to.deep.equal([]);
    const errors = outcomes.filter((o) => o.error);
    expect(
      errors.filter((e) => e.error !== 'ECONNREFUSED'),
      'only refused connections',
    ).to.deep.equal([]);
    expect(outcomes.filter((o) => o.status !== undefined && o.status !== 201)).to.deep.equal([]);
    const ids = outcomes.filter((o) => o.status === 201).map((o) => o.id);
    const rows = await sql(scenario.db.url, 'SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[])', [ids]);
    expect(rows[0].n).to.equal(ids.length);
    await checkConsistency(scenario.db.url);
  });
});
