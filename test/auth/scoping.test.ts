// What each role may see and do beyond the matrix: scopes with several values,
// batch items, claims without a profile list, how paths and headers are matched,
// and that the policy covers every secured operation in openapi.yaml.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse } from 'yaml';
import { RULES } from '../../src/auth/policy.ts';
import { SPEC_PATH } from '../../src/http/app.ts';
import { jobBody, setup, type TestService } from '../support/service.ts';
import { as, DB_FINGERPRINT, OTHER_PROFILE, OWNER_A, OWNER_B, PROFILE, TOKEN_LIST, TOKENS } from './fixtures.ts';

const BOTH = 'both-owners-token-0123456789';

describe('access control scopes', () => {
  let t: TestService;
  let n = 0;
  const tag = () => `scope_${++n}`;
  const create = (owner: string, taskType: string, profile = PROFILE) =>
    as(t.api.post('/api/v1/jobs'), TOKENS.admin)
      .send(jobBody({ owner_service: owner, task_type: taskType, model_profile: profile }))
      .expect(201)
      .then((r) => r.body);
  const fingerprint = async () => (await t.sql.query(DB_FINGERPRINT)).rows[0];

  before(async () => {
    const tokens = [...TOKEN_LIST, { name: 'both', role: 'producer', owner_services: [OWNER_A, OWNER_B], token: BOTH }];
    t = await setup({ API_TOKENS: JSON.stringify(tokens) });
  });
  after(() => t.close());

  it('lets a producer with two owner services list and read both, and only those', async () => {
    const tt = tag();
    const [a, b] = [await create(OWNER_A, tt), await create(OWNER_B, tt)];
    await create('monitoring-tg', tt);
    const list = await as(t.api.get('/api/v1/jobs').query({ task_type: tt }), BOTH).expect(200);
    expect(list.body.jobs.map((j: { id: string }) => j.id).sort()).to.deep.equal([a.id, b.id].sort());
    const one = await as(t.api.get('/api/v1/jobs').query({ task_type: tt, owner_service: OWNER_B }), BOTH).expect(200);
    expect(one.body.jobs.map((j: { id: string }) => j.id)).to.deep.equal([b.id]);
    await as(t.api.get(`/api/v1/jobs/${b.id}`), BOTH).expect(200);
  });

  it('refuses a list filtered on an owner service outside the scope with 403', async () => {
    const res = await as(t.api.get('/api/v1/jobs').query({ owner_service: OWNER_B }), TOKENS.producerA).expect(403);
    expect(res.body.code).to.equal('forbidden');
    expect(res.body.detail).to.include(OWNER_B);
  });

  it('refuses a whole batch when any item is for another owner service, naming the item', async () => {
    const before = await fingerprint();
    const res = await as(t.api.post('/api/v1/jobs/batch'), TOKENS.producerA)
      .send({
        defaults: { owner_service: OWNER_A, task_type: tag(), model_profile: PROFILE },
        jobs: [
          { owner_ref: 'r/0', input: {} },
          { owner_ref: 'r/1', input: {}, owner_service: OWNER_B },
          { owner_ref: 'r/2', input: {} },
        ],
      })
      .expect(403);
    expect(res.body.errors).to.deep.equal([
      { path: '/body/jobs/1/owner_service', message: `owner_service ${OWNER_B} is outside this token's scope` },
    ]);
    expect(await fingerprint()).to.deep.equal(before);
  });

  it("hides another owner's job as 404 on retry and cancel, and leaves it alone", async () => {
    const job = await create(OWNER_A, tag());
    const before = await fingerprint();
    await as(t.api.post(`/api/v1/jobs/${job.id}/cancel`), TOKENS.producerB).expect(404);
    await as(t.api.post(`/api/v1/jobs/${job.id}/retry`).send({}), TOKENS.producerB).expect(404);
    expect(await fingerprint()).to.deep.equal(before);
    // The owner gets the real answer: a pending job cannot be retried.
    const res = await as(t.api.post(`/api/v1/jobs/${job.id}/retry`).send({}), TOKENS.producerA).expect(409);
    expect(res.body.code).to.equal('invalid_state');
  });

  it('limits a scoped worker claiming without model_profiles to its own profiles', async () => {
    const tt = tag();
    const asr = await create(OWNER_A, tt, OTHER_PROFILE);
    await create(OWNER_A, tt, PROFILE);
    const res = await as(t.api.post('/api/v1/jobs/claim'), TOKENS.workerOther)
      .send({ worker_id: 'w', task_types: [tt], limit: 10 })
      .expect(200);
    expect(res.body.jobs.map((j: { id: string }) => j.id)).to.deep.equal([asr.id]);
  });

  it("refuses a claim naming any profile outside the worker's scope, claiming nothing", async () => {
    const tt = tag();
    await create(OWNER_A, tt, PROFILE);
    const before = await fingerprint();
    const res = await as(t.api.post('/api/v1/jobs/claim'), TOKENS.worker)
      .send({ worker_id: 'w', model_profiles: [PROFILE, OTHER_PROFILE], task_types: [tt] })
      .expect(403);
    expect(res.body.detail).to.include(OTHER_PROFILE);
    expect(await fingerprint()).to.deep.equal(before);
  });

  it('matches paths as Express routes them: any case, trailing slash, HEAD', async () => {
    for (const path of ['/API/V1/STATS', '/api/v1/stats/', '/Api/v1/Stats/']) {
      await as(t.api.get(path), TOKENS.producerA).expect(403);
      await t.api.get(path).expect(401);
    }
    await as(t.api.head('/api/v1/stats'), TOKENS.worker).expect(403);
    await as(t.api.get('/API/V1/STATS'), TOKENS.admin).expect(200);
  });

  it('closes routes without a rule to all but admin, and requires a token off the open routes', async () => {
    await as(t.api.get('/api/v1/secret-new-thing'), TOKENS.producerA).expect(403);
    await as(t.api.get('/api/v1/secret-new-thing'), TOKENS.admin).expect(404);
    await t.api.get('/anything-else').expect(401);
    for (const open of ['/healthz', '/readyz', '/openapi.yaml']) {
      await t.api.get(open).expect(200);
      await t.api.get(open).set('Authorization', 'Bearer not-a-token-at-all').expect(200);
    }
  });

  it('reads the Authorization header strictly: scheme any case, anything else is 401', async () => {
    await t.api.get('/api/v1/stats').set('Authorization', `bearer ${TOKENS.admin}`).expect(200);
    await t.api.get('/api/v1/stats').set('Authorization', `Bearer   ${TOKENS.admin}  `).expect(200);
    const cases = [`Basic ${TOKENS.admin}`, 'Bearer', `Bearer ${TOKENS.admin} extra`, `${TOKENS.admin}`, `Bearer ${TOKENS.admin}x`];
    for (const header of cases) {
      const res = await t.api.get('/api/v1/stats').set('Authorization', header).expect(401);
      expect(res.headers['www-authenticate']).to.equal('Bearer realm="ai-service", error="invalid_token"');
      expect(res.body.code).to.equal('unauthorized');
    }
    const none = await t.api.get('/api/v1/stats').expect(401);
    expect(none.headers['www-authenticate']).to.equal('Bearer realm="ai-service"');
  });

  it('answers 401, then 403, before looking at the body', async () => {
    const bad = { owner_service: OWNER_A, nonsense: true };
    await t.api.post('/api/v1/jobs').send(bad).expect(401);
    await as(t.api.post('/api/v1/jobs'), TOKENS.worker).send(bad).expect(403);
    await as(t.api.post('/api/v1/jobs'), TOKENS.producerA).send(bad).expect(400);
    // A big body from a caller without a token is answered without being parsed.
    const big = JSON.stringify(jobBody({ input: { pad: 'x'.repeat(1024 * 1024) } }));
    await t.api.post('/api/v1/jobs').set('Content-Type', 'application/json').send(big).expect(401);
  });

  it('has a rule for every secured operation in openapi.yaml', () => {
    const spec = parse(readFileSync(SPEC_PATH, 'utf8'));
    const secured: string[] = [];
    for (const [path, item] of Object.entries<Record<string, { operationId: string; security?: unknown[] }>>(spec.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!op?.operationId || (Array.isArray(op.security) && op.security.length === 0)) continue;
        secured.push(`${method.toUpperCase()} ${path} ${op.operationId}`);
      }
    }
    const ruled = RULES.map((r) => `${r.method} ${r.template} ${r.operationId}`);
    expect(
      secured.filter((s) => !ruled.includes(s)),
      'add a rule in src/auth/policy.ts',
    ).to.deep.equal([]);
  });
});
