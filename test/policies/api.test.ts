// The policies API: admin only, create or replace by scope, delete, validation
// naming the field with nothing changed, every change logged with the token's
// name, and policies surviving a restart.
import { expect } from 'chai';
import { as, NAMES, TOKEN_LIST, TOKENS } from '../auth/fixtures.ts';
import { setup, type TestService } from '../support/service.ts';

describe('policies API', function () {
  this.timeout(60_000);
  let t: TestService;
  const put = (body: unknown, token = TOKENS.admin) => as(t.api.put('/api/v1/policies'), token).send(body as object);
  const list = async () => (await as(t.api.get('/api/v1/policies'), TOKENS.admin).expect(200)).body.policies;

  before(async () => {
    t = await setup({ API_TOKENS: JSON.stringify(TOKEN_LIST) });
  });
  after(() => t.close());

  it('creates (201), replaces (200), lists and deletes (204) a policy by its scope', async () => {
    const scope = { owner_service: 'telephony', model_profile: 'qwen2.5-14b' };
    const created = await put({ scope, weight: 2, max_running: 4 }).expect(201);
    expect(created.body).to.include({ weight: 2, max_running: 4, paused: false });
    expect(created.body.scope).to.deep.equal(scope);
    const replaced = await put({ scope, paused: true }).expect(200);
    // a replacement sets every field: those left out take their defaults
    expect(replaced.body).to.include({ id: created.body.id, weight: 1, max_running: null, paused: true });
    expect((await list()).map((p: { id: number }) => p.id)).to.include(created.body.id);
    await as(t.api.delete(`/api/v1/policies/${created.body.id}`), TOKENS.admin).expect(204);
    await as(t.api.delete(`/api/v1/policies/${created.body.id}`), TOKENS.admin).expect(404);
    expect((await list()).map((p: { id: number }) => p.id)).to.not.include(created.body.id);
    const changes = t.logs.filter((l) => l.includes('"msg":"policy'));
    expect(changes).to.have.length(3);
    for (const l of changes) expect(JSON.parse(l).token).to.equal(NAMES.admin);
  });

  const bad: [string, unknown, number, string][] = [
    ['an empty scope', { scope: {} }, 422, '/body/scope'],
    ['no scope', { weight: 2 }, 400, '/body/scope'],
    ['a weight of 0', { scope: { owner_service: 'a' }, weight: 0 }, 400, '/body/weight'],
    ['a weight of 1001', { scope: { owner_service: 'a' }, weight: 1001 }, 400, '/body/weight'],
    ['a fractional weight', { scope: { owner_service: 'a' }, weight: 1.5 }, 400, '/body/weight'],
    ['a weight on a model-profile scope', { scope: { model_profile: 'vision' }, weight: 2 }, 422, '/body/weight'],
    ['a weight on a scope with task_type', { scope: { owner_service: 'a', task_type: 't' }, weight: 2 }, 422, '/body/weight'],
    ['a negative max_running', { scope: { owner_service: 'a' }, max_running: -1 }, 400, '/body/max_running'],
    ['max_running above 1,000,000', { scope: { owner_service: 'a' }, max_running: 1_000_001 }, 400, '/body/max_running'],
    ['a string max_running', { scope: { owner_service: 'a' }, max_running: '5' }, 400, '/body/max_running'],
    ['a non-boolean paused', { scope: { owner_service: 'a' }, paused: 'yes' }, 400, '/body/paused'],
    ['an unknown scope field', { scope: { owner_service: 'a', queue: 'x' }, paused: true }, 400, '/body/scope/queue'],
    ['a bad owner_service', { scope: { owner_service: 'no spaces' } }, 400, '/body/scope/owner_service'],
    ['an unknown field', { scope: { owner_service: 'a' }, priority: 3 }, 400, '/body/priority'],
  ];
  for (const [what, body, status, path] of bad) {
    it(`refuses ${what} with ${status} naming ${path}, changing nothing`, async () => {
      const before = await list();
      const res = await put(body).expect(status);
      expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include(path);
      expect(await list()).to.deep.equal(before);
    });
  }

  it('refuses a bad id on delete with 400', async () => {
    await as(t.api.delete('/api/v1/policies/abc'), TOKENS.admin).expect(400);
  });

  it('is admin-only: producer and worker tokens get 403, no token 401', async () => {
    for (const token of [TOKENS.producerA, TOKENS.worker]) {
      await as(t.api.get('/api/v1/policies'), token).expect(403);
      await put({ scope: { owner_service: 'a' }, paused: true }, token).expect(403);
      await as(t.api.delete('/api/v1/policies/1'), token).expect(403);
    }
    await t.api.get('/api/v1/policies').expect(401);
  });

  it('keeps policies across a restart', async () => {
    const created = await put({ scope: { model_profile: 'restart-p' }, max_running: 7 }).expect(201);
    await t.close();
    t = await setup({ API_TOKENS: JSON.stringify(TOKEN_LIST) }, t.databaseUrl);
    const found = (await list()).find((p: { id: number }) => p.id === created.body.id);
    expect(found).to.deep.equal(created.body);
  });
});
