// Every secured endpoint × every kind of caller → the expected status. Each cell
// starts from its own jobs (a unique task type), and a rejected call must leave
// both stores exactly as they were. The last test scans everything the service
// logged and answered for the token values.
import { expect } from 'chai';
import type supertest from 'supertest';
import { given } from '../support/factory.ts';
import { jobBody, setup, type TestService } from '../support/service.ts';
import { as, DB_FINGERPRINT, env, NAMES, OWNER_A, OWNER_B, PROFILE, TOKENS } from './fixtures.ts';

const WHO = ['none', 'unknown', 'producerA', 'producerB', 'worker', 'workerOther', 'admin'] as const;
type Who = (typeof WHO)[number];
const tokenOf = (who: Who) => (who === 'none' ? undefined : TOKENS[who]);

interface Cell {
  taskType: string;
  jobId: string;
  leaseToken: string;
}
interface Case {
  op: string;
  /** Jobs to act on: none, a pending job of owner A, or one claimed (running). */
  fixture: 'none' | 'pending' | 'running' | 'two-owners';
  send(api: supertest.Agent, c: Cell): supertest.Test;
  /** Statuses for producerA, producerB, worker, workerOther, admin; none/unknown are always 401. */
  expect: [number, number, number, number, number];
}

// producer A, producer B, worker, worker of another profile, admin
const PRODUCER_OWN = [200, 404, 403, 403, 200] as Case['expect'];
const WORKER_LEASE = [403, 403, 200, 200, 200] as Case['expect'];
const ADMIN_ONLY = [403, 403, 403, 403, 200] as Case['expect'];

const CASES: Case[] = [
  {
    op: 'createJob',
    fixture: 'none',
    send: (a, c) => a.post('/api/v1/jobs').send(jobBody({ task_type: c.taskType })),
    expect: [201, 403, 403, 403, 201],
  },
  {
    op: 'createJobBatch',
    fixture: 'none',
    send: (a, c) =>
      a.post('/api/v1/jobs/batch').send({
        defaults: { owner_service: OWNER_A, task_type: c.taskType, model_profile: PROFILE },
        jobs: [
          { owner_ref: 'r/1', input: { n: 1 } },
          { owner_ref: 'r/2', input: { n: 2 } },
        ],
      }),
    expect: [201, 403, 403, 403, 201],
  },
  {
    op: 'listJobs',
    fixture: 'two-owners',
    send: (a, c) => a.get('/api/v1/jobs').query({ task_type: c.taskType }),
    expect: [200, 200, 403, 403, 200],
  },
  { op: 'getJob', fixture: 'pending', send: (a, c) => a.get(`/api/v1/jobs/${c.jobId}`), expect: PRODUCER_OWN },
  { op: 'retryJob', fixture: 'running', send: (a, c) => a.post(`/api/v1/jobs/${c.jobId}/retry`).send({}), expect: PRODUCER_OWN },
  { op: 'cancelJob', fixture: 'pending', send: (a, c) => a.post(`/api/v1/jobs/${c.jobId}/cancel`), expect: PRODUCER_OWN },
  {
    op: 'claimJobs',
    fixture: 'pending',
    send: (a, c) => a.post('/api/v1/jobs/claim').send({ worker_id: 'w', model_profiles: [PROFILE], task_types: [c.taskType] }),
    expect: [403, 403, 200, 403, 200],
  },
  {
    op: 'heartbeatJob',
    fixture: 'running',
    send: (a, c) => a.post(`/api/v1/jobs/${c.jobId}/heartbeat`).send({ lease_token: c.leaseToken }),
    expect: WORKER_LEASE,
  },
  {
    op: 'completeJob',
    fixture: 'running',
    send: (a, c) => a.post(`/api/v1/jobs/${c.jobId}/complete`).send({ lease_token: c.leaseToken, result: { ok: true } }),
    expect: WORKER_LEASE,
  },
  {
    op: 'completeJobs',
    fixture: 'running',
    send: (a, c) =>
      a.post('/api/v1/jobs/complete').send({ completions: [{ id: c.jobId, lease_token: c.leaseToken, result: { ok: true } }] }),
    expect: WORKER_LEASE,
  },
  {
    op: 'failJob',
    fixture: 'running',
    send: (a, c) =>
      a.post(`/api/v1/jobs/${c.jobId}/fail`).send({ lease_token: c.leaseToken, category: 'provider_unavailable', message: 'down' }),
    expect: WORKER_LEASE,
  },
  { op: 'getStats', fixture: 'none', send: (a) => a.get('/api/v1/stats'), expect: ADMIN_ONLY },
  { op: 'getProviderStatus', fixture: 'none', send: (a) => a.get('/api/v1/providers/status'), expect: ADMIN_ONLY },
];

function expected(c: Case, who: Who): number {
  if (who === 'none' || who === 'unknown') return 401;
  return c.expect[WHO.indexOf(who) - 2];
}

describe('access control matrix', () => {
  let t: TestService;
  let n = 0;
  const seen: string[] = [];

  before(async () => {
    t = await setup(env());
  });
  after(() => t.close());

  async function prepare(fixture: Case['fixture']): Promise<Cell> {
    const cell: Cell = { taskType: `matrix_${++n}`, jobId: '', leaseToken: '' };
    if (fixture === 'none') return cell;
    const of = (owner: string) => ({ owner_service: owner, task_type: cell.taskType, model_profile: PROFILE });
    const job = await given.job(t, { ...of(OWNER_A), status: fixture === 'running' ? 'running' : 'pending' });
    cell.jobId = job.id;
    cell.leaseToken = job.lease_token ?? '';
    if (fixture === 'two-owners') await given.job(t, of(OWNER_B));
    return cell;
  }

  for (const c of CASES) {
    for (const who of WHO) {
      const want = expected(c, who);
      it(`${c.op} as ${who} → ${want}`, async () => {
        const cell = await prepare(c.fixture);
        const before = (await t.sql.query(DB_FINGERPRINT)).rows[0];
        const res = await as(c.send(t.api, cell), tokenOf(who));
        seen.push(JSON.stringify({ headers: res.headers, text: res.text }));
        expect(res.status, res.text).to.equal(want);
        if (res.status >= 400) {
          expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
          expect((await t.sql.query(DB_FINGERPRINT)).rows[0]).to.deep.equal(before);
        }
        if (res.status === 401) expect(res.headers['www-authenticate']).to.match(/^Bearer realm="ai-service"/);
        if (c.op === 'listJobs' && res.status === 200) {
          const owners = new Set(res.body.jobs.map((j: { owner_service: string }) => j.owner_service));
          const visible = { producerA: [OWNER_A], producerB: [OWNER_B], admin: [OWNER_A, OWNER_B] }[who as string];
          expect([...owners].sort()).to.deep.equal([...visible!].sort());
        }
      });
    }
  }

  it('never writes a token into a log line or a response, and logs the token name instead', () => {
    expect(seen.length).to.equal(CASES.length * WHO.length);
    const everything = [...t.logs, ...seen];
    for (const [who, token] of Object.entries(TOKENS)) {
      const leaks = everything.filter((line) => line.includes(token));
      expect(leaks, `${who} token leaked`).to.deep.equal([]);
    }
    const statsByAdmin = t.logs.map((l) => JSON.parse(l)).find((l) => l.req?.url === '/api/v1/stats' && l.res?.statusCode === 200);
    expect(statsByAdmin?.token).to.equal(NAMES.admin);
    const rejected = t.logs.map((l) => JSON.parse(l)).filter((l) => l.res?.statusCode === 403 && l.req?.url === '/api/v1/stats');
    expect(rejected.map((l) => l.token).sort()).to.deep.equal([NAMES.producerB, NAMES.producerA, NAMES.workerOther, NAMES.worker].sort());
  });
});
