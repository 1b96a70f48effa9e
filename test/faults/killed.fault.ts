// Scenario 2: a worker killed with SIGKILL mid-job. Scenario 3: a service replica
// killed with SIGKILL during a stream of batch creates and claims; the surviving
// replica takes over leadership (lease reaper) and nothing is half-written.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { expect } from 'chai';
import { waitUntil } from '../support/wait.ts';
import { call, checkConsistency, faultScenario, type Replica, sql } from './harness.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

describe('fault: processes killed with SIGKILL', function () {
  this.timeout(120_000);
  const scenario = faultScenario();
  /** Ends a test's load loops, also when the test fails before it ends them itself. */
  let stop = false;
  afterEach(() => {
    stop = true;
  });

  it('re-runs the job of a killed worker as attempt 2 and rejects the dead worker’s lease', async () => {
    const r = await scenario.replica();
    const created = await call(`${r.url}/api/v1/jobs`, 'POST', {
      owner_service: 'faults',
      owner_ref: 'killed-worker',
      task_type: 'transcribe',
      model_profile: 'whisperx',
      input: {},
    });
    expect(created.status).to.equal(201);
    const worker = spawn(process.execPath, ['test/faults/stall-worker.ts', r.url, 'whisperx', '1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = await once(worker.stdout!, 'data');
    const held = JSON.parse(line.toString());
    expect(held.id).to.equal(created.body.id);
    worker.kill('SIGKILL');
    await once(worker, 'exit');

    const again = await call(`${r.url}/api/v1/jobs/claim`, 'POST', {
      worker_id: 'healthy',
      model_profiles: ['whisperx'],
      wait_seconds: 10,
    });
    expect(again.body.jobs).to.have.length(1);
    expect(again.body.jobs[0]).to.include({ id: held.id, attempt: 2 });
    const done = await call(`${r.url}/api/v1/jobs/${held.id}/complete`, 'POST', {
      lease_token: again.body.jobs[0].lease_token,
      result: { text: 'ok' },
    });
    expect(done.status).to.equal(200);
    for (const [op, body] of [
      ['heartbeat', { lease_token: held.lease_token }],
      ['complete', { lease_token: held.lease_token, result: { text: 'stale' } }],
      ['fail', { lease_token: held.lease_token, category: 'internal', message: 'late' }],
    ] as const) {
      const late = await call(`${r.url}/api/v1/jobs/${held.id}/${op}`, 'POST', body);
      expect(late.status, op).to.equal(409);
      expect(late.body.code).to.equal('lease_lost');
    }
    const job = await call(`${r.url}/api/v1/jobs/${held.id}`, 'GET');
    expect(job.body.result).to.deep.equal({ text: 'ok' });
    await checkConsistency(scenario.db.url);
    r.kill('SIGTERM');
    expect(await r.exited).to.equal(0);
  });

  it('keeps batches all-or-nothing when a replica dies, and the survivor reaps its leases', async () => {
    const pair = [await scenario.replica(), await scenario.replica()];
    const leaderOf = (x: Replica) => x.output.some((l) => l.includes('now the leader'));
    // Kill whichever replica leads, so the other has to take over the reaper.
    const victim = await waitUntil(async () => pair.find(leaderOf), { what: 'a leader' });
    const survivor = pair.find((x) => x !== victim)!;

    const acknowledged: number[] = [];
    stop = false;
    let batch = 0;
    const producer = async (target: Replica) => {
      while (!stop) {
        const k = batch++;
        const res = await call(`${target.url}/api/v1/jobs/batch`, 'POST', {
          defaults: { owner_service: 'faults', task_type: 'kill', model_profile: 'kill-m', input: {} },
          jobs: Array.from({ length: 50 }, (_, i) => ({ owner_ref: `batch-${k}/${i}` })),
        });
        if (res.status === 201) acknowledged.push(k);
        else if (res.status === 0) await new Promise((r) => setTimeout(r, 20)); // victim gone: its port refuses
      }
    };
    const claimer = async (target: Replica) => {
      while (!stop) {
        await call(`${target.url}/api/v1/jobs/claim`, 'POST', { worker_id: 'c', model_profiles: ['kill-m'], limit: 10, lease_seconds: 1 });
      }
    };
    const load = [producer(victim), producer(survivor), claimer(victim), claimer(survivor)];
    await waitUntil(async () => acknowledged.length >= 10, { what: 'some batches' });
    victim.kill('SIGKILL');
    await victim.exited;
    const afterKill = acknowledged.length;
    await waitUntil(async () => acknowledged.length >= afterKill + 10, { what: 'batches after the kill' });
    stop = true;
    await Promise.all(load);

    const counts = await sql(
      scenario.db.url,
      `SELECT split_part(owner_ref, '/', 1) AS batch, count(*)::int AS n FROM jobs WHERE task_type = 'kill' GROUP BY 1`,
    );
    expect(
      counts.every((c) => c.n === 50),
      JSON.stringify(counts.filter((c) => c.n !== 50)),
    ).to.equal(true);
    const present = new Set(counts.map((c) => c.batch));
    expect(acknowledged.every((k) => present.has(`batch-${k}`))).to.equal(true);
    await waitUntil(async () => leaderOf(survivor), { what: 'survivor takes over leadership' });
    await waitUntil(
      async () =>
        (
          await sql(
            scenario.db.url,
            `SELECT count(*)::int AS n FROM jobs WHERE status = 'running' AND lease_expires_at < now() - interval '1 second'`,
          )
        )[0].n === 0,
      { what: 'expired leases reaped' },
    );
    await checkConsistency(scenario.db.url);
  });
});
