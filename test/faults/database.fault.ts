// Scenario 4: PostgreSQL stopped and restarted under load. Scenario 5: the jobs
// table locked (a slow database). The API must answer 503 problem+json within its
// timeouts — never hang, never 500 — and recover without a restart.
import { expect } from 'chai';
import pg from 'pg';
import { waitUntil } from '../support/wait.ts';
import { type CallResult, call, checkConsistency, type Database, faultScenario, type Replica, sql } from './harness.ts';

const TIMEOUTS = { DB_CONNECT_TIMEOUT: '1s', DB_STATEMENT_TIMEOUT: '1s', DB_POOL_SIZE: '4' };
/** The worst answer time we accept: pool wait or statement timeout, plus slack for a busy 2-core box. */
const ANSWER_BOUND_MS = 5000;

function jobBody(ref: string) {
  return { owner_service: 'faults', owner_ref: ref, task_type: 'db', model_profile: 'db-m', input: {} };
}

async function timed(p: Promise<CallResult>): Promise<CallResult & { ms: number }> {
  const t0 = Date.now();
  const r = await p;
  return { ...r, ms: Date.now() - t0 };
}

describe('fault: the database goes away or slows down', function () {
  this.timeout(120_000);
  const scenario = faultScenario();
  /** Ends a test's load loops, also when the test fails before it ends them itself. */
  let stop = false;
  afterEach(() => {
    stop = true;
  });
  let db: Database;
  let r: Replica;

  before(async () => {
    db = scenario.db;
    r = await scenario.replica(TIMEOUTS);
  });

  it('answers 503 while PostgreSQL is down and recovers when it is back', async () => {
    const acknowledged: string[] = [];
    const answers: (CallResult & { ms: number })[] = [];
    stop = false;
    let n = 0;
    const load = async () => {
      while (!stop) {
        const res = await timed(call(`${r.url}/api/v1/jobs`, 'POST', jobBody(`restart-${n++}`)));
        answers.push(res);
        if (res.status === 201) acknowledged.push(res.body.id);
        await timed(call(`${r.url}/api/v1/jobs/claim`, 'POST', { worker_id: 'w', model_profiles: ['db-m'] })).then((c) => answers.push(c));
      }
    };
    const clients = [load(), load()];
    await waitUntil(async () => acknowledged.length >= 20, { what: 'jobs before the outage' });

    await db.stop();
    const outage = await waitUntil(async () => answers.find((a) => a.status === 503), { what: 'a 503 during the outage' });
    expect(outage.body.code).to.match(/database_(unavailable|timeout)/);
    const ready = await call(`${r.url}/readyz`, 'GET');
    expect(ready.status).to.equal(503);
    const before = acknowledged.length;

    await db.restart();
    await waitUntil(async () => acknowledged.length >= before + 20, { timeoutMs: 30_000, what: 'creates after the outage' });
    stop = true;
    await Promise.all(clients);

    expect(
      answers.filter((a) => ![200, 201, 503].includes(a.status)),
      'only 200/201/503',
    ).to.deep.equal([]);
    expect(Math.max(...answers.map((a) => a.ms))).to.be.below(ANSWER_BOUND_MS);
    expect((await call(`${r.url}/readyz`, 'GET')).status).to.equal(200);
    const rows = await sql(db.url, 'SELECT id FROM jobs WHERE id = ANY($1::uuid[])', [acknowledged]);
    expect(rows).to.have.length(acknowledged.length);
    await checkConsistency(db.url);
  });

  it('answers 503 within the timeouts while the jobs table is locked, then recovers', async () => {
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE');
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => timed(call(`${r.url}/api/v1/jobs`, 'POST', jobBody(`locked-${i}`)))),
      );
      for (const a of answers) {
        expect(a.status, JSON.stringify(a.body)).to.equal(503);
        expect(a.ms).to.be.below(ANSWER_BOUND_MS);
      }
      await locker.query('ROLLBACK');
    } finally {
      await locker.end();
    }
    const after = await call(`${r.url}/api/v1/jobs`, 'POST', jobBody('after-lock'));
    expect(after.status).to.equal(201);
    const rows = await sql(db.url, `SELECT count(*)::int AS n FROM jobs WHERE owner_ref LIKE 'locked-%'`);
    expect(rows[0].n).to.equal(0);
    await checkConsistency(db.url);
  });
});
