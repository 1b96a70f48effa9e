// The service behind PgBouncer in transaction mode: DATABASE_URL names the
// pooler, DATABASE_DIRECT_URL the server (LISTEN, leader lock, migrations,
// pg-boss's own pool). The whole job lifecycle, concurrent load that would make
// named prepared statements collide, and long-poll wake-ups work through it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { cleanup, NODE, ROOT, spawnService } from '../support/processes.ts';
import { createEmptyDatabase } from '../support/database.ts';
import { type PgBouncer, startPgBouncer } from '../support/pgbouncer.ts';
import { client, jobBody, setup, type TestService } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';

const WAKE_ROUNDS = 40;
// Longer than a claim's wait: a long-poll that gets its job was woken by the notification.
const RECHECK = '60s';
const BURST = 200;

describe('behind PgBouncer in transaction mode', function () {
  this.timeout(120_000);
  let bouncer: PgBouncer;
  let direct: string;
  let t: TestService;
  let api: ReturnType<typeof client>;

  before(async () => {
    direct = await createEmptyDatabase();
    bouncer = await startPgBouncer(direct);
    // An empty database: migrations run at start, over the direct connection.
    t = await setup({ DATABASE_DIRECT_URL: direct, LONG_POLL_RECHECK: RECHECK }, bouncer.url(direct));
    api = client(t.api);
  });
  after(async () => {
    await cleanup();
    await t?.close();
    await bouncer?.stop();
  });

  it('starts on an empty database, applying migrations over DATABASE_DIRECT_URL', async () => {
    const res = await t.api.get('/readyz');
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const { rows } = await t.sql.query(
      `SELECT to_regclass('pgboss.job') IS NOT NULL AS boss, to_regclass('public.jobs') IS NOT NULL AS jobs`,
    );
    expect(rows[0]).to.deep.equal({ boss: true, jobs: true });
  });

  it('runs the job lifecycle: create, batch, claim, heartbeat, complete, fail, retry, cancel', async () => {
    const profile = 'bouncer-life';
    const one = await api.create(jobBody({ model_profile: profile }));
    const batch = await api.batch({
      defaults: { owner_service: 'b', task_type: 't', model_profile: profile },
      jobs: [
        { owner_ref: 'b1', input: {} },
        { owner_ref: 'b2', input: {} },
      ],
    });
    expect(batch.jobs).to.have.length(2);
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [profile], limit: 3 });
    expect(jobs).to.have.length(3);
    const [a, b, c] = jobs;
    await api.heartbeat(a.id, { lease_token: a.lease_token });
    expect((await api.complete(a.id, { lease_token: a.lease_token, result: { ok: true } })).status).to.equal('completed');
    const failed = await api.fail(b.id, { lease_token: b.lease_token, category: 'invalid_input', message: 'bad' });
    expect(failed.status).to.equal('failed');
    expect((await api.retry(b.id)).status).to.equal('pending');
    expect((await api.cancel(c.id)).status).to.equal('cancelled');
    expect((await api.get(one.id)).id).to.equal(one.id);
  });

  it(`answers ${BURST} concurrent creates and claims without an error (no prepared-statement collisions)`, async () => {
    const profile = 'bouncer-burst';
    const creates = await Promise.all(
      Array.from({ length: BURST }, () => t.api.post('/api/v1/jobs').send(jobBody({ model_profile: profile }))),
    );
    expect(creates.filter((r) => r.status !== 201).map((r) => r.body)).to.deep.equal([]);
    const claims = await Promise.all(
      Array.from({ length: BURST / 4 }, () =>
        t.api.post('/api/v1/jobs/claim').send({ worker_id: 'w', model_profiles: [profile], limit: 4 }),
      ),
    );
    expect(claims.filter((r) => r.status !== 200).map((r) => r.body)).to.deep.equal([]);
    expect(claims.reduce((n, r) => n + r.body.jobs.length, 0)).to.equal(BURST);
  });

  it('wakes a long-poll claim through the notification when a job is created, every time', async () => {
    const profile = 'bouncer-wake';
    // The first create of a profile also creates its queue: keep that out of the measurement.
    await api.create(jobBody({ model_profile: profile }));
    await api.claim({ worker_id: 'w', model_profiles: [profile] });
    const latencies: number[] = [];
    for (let i = 0; i < WAKE_ROUNDS; i++) {
      const claim = t.api
        .post('/api/v1/jobs/claim')
        .send({ worker_id: 'w', model_profiles: [profile], wait_seconds: 10 })
        .then((r) => r);
      // Create only once the claim found nothing and waits (a job already there would be claimed at once).
      await waitFor('the claim to wait', () => t.service.jobs.waitingClaims === 1);
      await api.create(jobBody({ model_profile: profile }));
      const created = performance.now();
      const res = await claim;
      latencies.push(performance.now() - created);
      // the re-check backstop (LONG_POLL_RECHECK) is longer than the wait: only the notification delivers it
      expect(res.body.jobs, `round ${i}`).to.have.length(1);
    }
    latencies.sort((x, y) => x - y);
    // the figure to watch is the benchmark's (scripts/bench, scenario 7); this one is for the log
    console.log(
      `      long-poll wake-up through PgBouncer: p50 ${latencies[latencies.length >> 1].toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`,
    );
  });

  it('hands leadership to another replica within 10 s when the leader replica stops', async () => {
    const env = { DATABASE_URL: bouncer.url(direct), DATABASE_DIRECT_URL: direct, LOG_LEVEL: 'info' };
    const isLeader = (e: { msg?: string }) => e.msg === 'this replica is now the leader (reaper, stats rollup, purge)';
    const replicas = [spawnService(env), spawnService(env)];
    await Promise.all(replicas.map((r) => r.url()));
    // The in-process service of this suite may hold the lock: stop it, so one of the two leads.
    await t.close();
    const leader = await Promise.any(replicas.map((r) => r.waitForLog(isLeader, 15_000).then(() => r)));
    const other = replicas.find((r) => r !== leader)!;
    leader.proc.kill('SIGTERM');
    const stoppedAt = Date.now();
    expect((await leader.exited).code).to.equal(0);
    await other.waitForLog(isLeader, 10_000);
    console.log(`      leadership moved ${Date.now() - stoppedAt} ms after SIGTERM to the leader`);
    other.proc.kill('SIGTERM');
    expect((await other.exited).code).to.equal(0);
  });

  it('leaves both stores consistent (npm run check:consistency)', async () => {
    const { stdout } = await promisify(execFile)(NODE, ['scripts/check-consistency.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: direct, LOG_LEVEL: 'warn' },
    });
    expect(stdout).to.not.match(/violation/i);
  });
});
