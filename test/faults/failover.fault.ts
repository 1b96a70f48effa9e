// Scenario: a primary failover. Two replicas reach PostgreSQL through a proxy that
// follows the primary; the primary streams synchronously to a standby. Under steady
// creates (some into new queues, which go through pg-boss's own pool), claims and
// completes from several clients the primary is killed (SIGKILL to all its
// processes), the standby promoted and the proxy re-pointed. Run twice: with new
// connections refused during the outage, and with them black-holed (accepted, never
// answered, never released), which only the service's own timeouts end.
// During the outage every answer is 200/201 or 503 `database_unavailable` within the
// timeouts; within RECOVERY_BOUND_MS of the new primary being reachable both replicas
// serve again, listen again, and one of them leads, without a restart; every create,
// claim and complete a client saw acknowledged is on the new primary, in both stores.
import { expect } from 'chai';
import { type FollowingProxy, startFollowingProxy } from '../support/following-proxy.ts';
import { type ReplicatedPostgres, startReplicatedPostgres } from '../support/replicated-postgres.ts';
import { waitUntil } from '../support/wait.ts';
import { type CallResult, call, checkConsistency, type Replica, sql, startReplica, stopReplicas } from './harness.ts';

const CLIENTS = 4;
const PROFILE = 'failover-m';
const ENV = { DB_CONNECT_TIMEOUT: '1s', DB_STATEMENT_TIMEOUT: '3s', DB_POOL_SIZE: '6' };
/** The worst answer time we accept: the statement timeout plus slack for a busy 2-core box. */
const ANSWER_BOUND_MS = 6000;
/** From the new primary being reachable to both replicas serving creates, claims and completes. */
const RECOVERY_BOUND_MS = 10_000;
/** What a client waits after a 503 before its next call (it would honour Retry-After in earnest). */
const CLIENT_BACKOFF_MS = 100;
/** The advisory lock key of src/leader/leader.ts. */
const LEADER_LOCK_KEY = 4_242_002;
/** Every NEW_QUEUE_EVERY-th create goes to a queue of its own (created through pg-boss's pool). */
const NEW_QUEUE_EVERY = 4;

interface Answer extends CallResult {
  op: 'create' | 'create-queue' | 'claim' | 'complete';
  at: number;
  ms: number;
}

describe('fault: primary failover to a synchronous standby', function () {
  this.timeout(180_000);
  let pgPair: ReplicatedPostgres | undefined;
  let proxy: FollowingProxy | undefined;
  const replicas: Replica[] = [];
  let stop = false;
  /** Set when the test ends: a client stops resending a complete (the database may never come back after a failure). */
  let abandon = false;
  let clients: Promise<void>[] = [];
  afterEach(async function () {
    stop = true;
    abandon = true;
    await Promise.all(clients);
    if (this.currentTest?.state === 'failed')
      for (const r of replicas)
        console.log(
          r.output
            .filter((l) => /"level":[45]0/.test(l))
            .slice(-30)
            .join('\n'),
        );
  });
  after(async () => {
    await stopReplicas(replicas);
    await proxy?.close();
    await pgPair?.destroy();
  });

  for (const outage of ['refused', 'black-holed'] as const)
    it(`serves through the failover and loses nothing it acknowledged (connections ${outage} during the outage)`, async () => {
      await stopReplicas(replicas.splice(0));
      await proxy?.close();
      await pgPair?.destroy();
      pgPair = await startReplicatedPostgres();
      proxy = await startFollowingProxy(pgPair.primary.port);
      const proxied = new URL(pgPair.primary.url);
      proxied.port = String(proxy.port);
      for (let i = 0; i < 2; i++) replicas.push(await startReplica(proxied.toString(), ENV));

      const answers: Answer[] = [];
      const created = new Set<string>();
      const claimed: { id: string; lease_token: string }[] = [];
      const completed = new Set<string>();
      const send = async (op: Answer['op'], url: string, body: unknown) => {
        const at = Date.now();
        const res = await call(url, 'POST', body);
        const answer = { ...res, op, at, ms: Date.now() - at };
        answers.push(answer);
        if (res.status === 503 || res.status === 0) await new Promise((r) => setTimeout(r, CLIENT_BACKOFF_MS));
        return answer;
      };
      stop = false;
      abandon = false;
      let n = 0;
      const client = async (c: number) => {
        const base = `${replicas[c % replicas.length].url}/api/v1/jobs`;
        while (!stop) {
          const i = n++;
          const newQueue = i % NEW_QUEUE_EVERY === 0;
          const body = {
            owner_service: 'faults',
            owner_ref: `failover-${i}`,
            task_type: newQueue ? `fo${i}` : 'fo',
            model_profile: PROFILE,
            input: {},
          };
          const create = await send(newQueue ? 'create-queue' : 'create', base, body);
          if (create.status === 201 || create.status === 200) created.add(create.body.id);
          const claim = await send('claim', `${base}/claim`, {
            worker_id: `w${c}`,
            model_profiles: [PROFILE],
            limit: 1,
            lease_seconds: 300,
          });
          for (const job of claim.status === 200 ? claim.body.jobs : []) {
            claimed.push({ id: job.id, lease_token: job.lease_token });
            // A worker keeps reporting its result until the service acknowledges it.
            for (;;) {
              const done = await send('complete', `${base}/${job.id}/complete`, { lease_token: job.lease_token, result: { ok: true } });
              if (done.status === 200) completed.add(job.id);
              if (done.status !== 503 || abandon) break;
            }
          }
        }
      };
      clients = Array.from({ length: CLIENTS }, (_, c) => client(c));
      const settledAfter = (t: number, op: Answer['op'], ok: (a: Answer) => boolean) =>
        answers.find((a) => a.at >= t && a.op === op && ok(a));

      await waitUntil(async () => completed.size >= 30, { timeoutMs: 60_000, what: 'jobs completed before the failover' });
      if (outage === 'black-holed') proxy.blackhole();
      await pgPair.crashPrimary();
      const crashedAt = Date.now();
      const unavailable = (op: Answer['op']) => answers.filter((a) => a.at >= crashedAt && a.op === op && a.status === 503).length;
      await waitUntil(async () => unavailable('create') >= CLIENTS && unavailable('create-queue') >= 1 && unavailable('claim') >= CLIENTS, {
        timeoutMs: 30_000,
        what: '503s during the outage',
      });
      for (const r of replicas) expect((await call(`${r.url}/readyz`, 'GET')).status, 'readyz during the outage').to.equal(503);

      await pgPair.promote();
      proxy.retarget(pgPair.standby.port);
      const reachableAt = Date.now();
      const recovered = await waitUntil(
        async () => {
          const done = (['create', 'create-queue', 'claim', 'complete'] as const).map((op) =>
            settledAfter(
              reachableAt,
              op,
              (a) => a.status === (op.startsWith('create') ? 201 : 200) && (op !== 'claim' || a.body.jobs.length > 0),
            ),
          );
          return done.every(Boolean) && Math.max(...done.map((a) => a!.at + a!.ms));
        },
        { timeoutMs: 30_000, what: 'creates, claims and completes on the new primary' },
      );
      await waitUntil(async () => (await Promise.all(replicas.map((r) => call(`${r.url}/readyz`, 'GET')))).every((a) => a.status === 200), {
        timeoutMs: 30_000,
        what: 'both replicas ready',
      });
      const readyAt = Date.now();
      const leader = await waitUntil(
        async () => {
          const rows = await sql(
            pgPair!.standby.url,
            `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $1::oid`,
            [LEADER_LOCK_KEY],
          );
          return rows.length === 1 && Date.now();
        },
        { timeoutMs: 30_000, what: 'a leader on the new primary' },
      );
      const listening = await waitUntil(
        async () => {
          const rows = await sql(pgPair!.standby.url, `SELECT 1 FROM pg_stat_activity WHERE application_name = 'ai-service-listen'`);
          return rows.length === replicas.length && Date.now();
        },
        { timeoutMs: 30_000, what: 'both replicas listening on the new primary' },
      );
      const afterRecovery = completed.size;
      await waitUntil(async () => completed.size >= afterRecovery + 30, { timeoutMs: 60_000, what: 'load after the failover' });
      stop = true;
      await Promise.all(clients);

      const during = answers.filter((a) => a.at >= crashedAt && a.at < reachableAt);
      console.log(
        `      ${answers.length} answers, ${created.size} created, ${completed.size} completed; outage ${reachableAt - crashedAt} ms with ${during.length} answers` +
          ` (slowest ${Math.max(...during.map((a) => a.ms))} ms); after the new primary was reachable: serving ${recovered - reachableAt} ms,` +
          ` ready ${readyAt - reachableAt} ms, leader ${leader - reachableAt} ms, listening ${listening - reachableAt} ms`,
      );
      expect(
        answers.filter((a) => ![200, 201, 503].includes(a.status)).map((a) => `${a.op} ${a.status} ${a.error ?? JSON.stringify(a.body)}`),
      ).to.deep.equal([]);
      expect([...new Set(answers.filter((a) => a.status === 503).map((a) => a.body.code))], '503 codes').to.deep.equal([
        'database_unavailable',
      ]);
      expect(Math.max(...answers.map((a) => a.ms)), 'slowest answer (ms)').to.be.below(ANSWER_BOUND_MS);
      expect(recovered - reachableAt, 'serving again after (ms)').to.be.below(RECOVERY_BOUND_MS);
      expect(readyAt - reachableAt, 'ready again after (ms)').to.be.below(RECOVERY_BOUND_MS);
      expect(leader - reachableAt, 'a leader again after (ms)').to.be.below(RECOVERY_BOUND_MS);
      expect(listening - reachableAt, 'listening again after (ms)').to.be.below(RECOVERY_BOUND_MS);
      for (const r of replicas) expect(r.proc.exitCode, 'a replica exited').to.equal(null);

      // Everything acknowledged is on the new primary, in both stores.
      const db = pgPair.standby.url;
      const createdRows = await sql(
        db,
        `SELECT j.id FROM jobs j JOIN pgboss.job p ON p.name = j.queue AND p.id = j.id WHERE j.id = ANY($1::uuid[])`,
        [[...created]],
      );
      expect(createdRows.length, 'acknowledged creates present').to.equal(created.size);
      const claimRows = await sql(
        db,
        'SELECT 1 FROM job_attempts WHERE (job_id, lease_token) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))',
        [claimed.map((c) => c.id), claimed.map((c) => c.lease_token)],
      );
      expect(claimRows.length, 'acknowledged claims present').to.equal(claimed.length);
      const doneRows = await sql(
        db,
        `SELECT 1 FROM jobs j JOIN pgboss.job p ON p.name = j.queue AND p.id = j.id
        WHERE j.id = ANY($1::uuid[]) AND j.status = 'completed' AND p.state = 'completed'`,
        [[...completed]],
      );
      expect(doneRows.length, 'acknowledged completes present').to.equal(completed.size);
      await checkConsistency(db);
    });
});
