import { expect } from 'chai';
import type supertest from 'supertest';
import { MAX_FIELD_ERRORS } from '../../src/http/errors.ts';
import { jobBody, setup, type TestService } from '../support/service.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Asserts an RFC 9457 problem with our stable code, and no stack trace anywhere. */
function expectProblem(res: supertest.Response, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  expect(res.body).to.include.all.keys('type', 'title', 'status', 'detail', 'code');
  expect(res.body.status).to.equal(status);
  expect(res.body.code).to.equal(code);
  expect(res.body.type).to.equal(`https://ai-service.dev/problems/${code.replaceAll('_', '-')}`);
  expect(res.body.title).to.be.a('string').and.not.equal('');
  expect(res.body.detail).to.be.a('string').and.not.equal('');
  expect(res.text).not.to.match(/\bat .+\.(ts|js):\d+/);
}

describe('HTTP skeleton', () => {
  let t: TestService;
  before(async () => {
    t = await setup();
  });
  after(() => t.close());

  it('GET /healthz answers 200 {"status":"ok"}', async () => {
    const res = await t.api.get('/healthz');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ status: 'ok' });
  });

  it('GET /readyz answers 200 naming every check', async () => {
    const res = await t.api.get('/readyz');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ status: 'ready', checks: { database: 'ok', migrations: 'ok', shutdown: 'ok' } });
  });

  it('serves the OpenAPI spec', async () => {
    const res = await t.api.get('/openapi.yaml');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/yaml/);
    expect(res.text).to.match(/^openapi: 3\./m);
  });

  it('answers a malformed JSON body with 400 malformed_json', async () => {
    const res = await t.api.post('/api/v1/jobs').set('Content-Type', 'application/json').send('{"owner_service": ');
    expectProblem(res, 400, 'malformed_json');
  });

  it('answers an unknown route with 404 route_not_found, inside and outside /api', async () => {
    expectProblem(await t.api.get('/api/v1/nothing-here'), 404, 'route_not_found');
    expectProblem(await t.api.get('/nothing-here'), 404, 'route_not_found');
  });

  it('answers a wrong method on a known route with 405', async () => {
    expectProblem(await t.api.delete('/api/v1/jobs'), 405, 'method_not_allowed');
  });

  it('answers a non-JSON content type with 415 unsupported_media_type', async () => {
    const res = await t.api.post('/api/v1/jobs').set('Content-Type', 'text/plain').send('owner_service=telephony');
    expectProblem(res, 415, 'unsupported_media_type');
  });

  it('answers an invalid body with 400 and an errors array naming each field', async () => {
    const res = await t.api.post('/api/v1/jobs').send({ ...jobBody(), owner_service: 42, task_type: undefined });
    expectProblem(res, 400, 'validation_failed');
    const paths = res.body.errors.map((e: { path: string }) => e.path).join(' ');
    expect(paths).to.include('owner_service');
    expect(paths).to.include('task_type');
    for (const e of res.body.errors) expect(e.message).to.be.a('string').and.not.equal('');
  });

  it(`lists at most ${MAX_FIELD_ERRORS} field errors however many fields are wrong`, async () => {
    const jobs = Array.from({ length: 80 }, () => ({ ...jobBody(), owner_service: 42 }));
    const res = await t.api.post('/api/v1/jobs/batch').send({ jobs });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).to.have.length(MAX_FIELD_ERRORS);
  });

  it('echoes X-Request-Id and logs the request under it', async () => {
    const res = await t.api.get('/api/v1/jobs').set('X-Request-Id', 'req-foundation-1');
    expect(res.status).to.equal(200);
    expect(res.headers['x-request-id']).to.equal('req-foundation-1');
    const line = t.logs.map((l) => JSON.parse(l)).find((e) => e.req?.id === 'req-foundation-1');
    expect(line).to.deep.include({ msg: 'request completed' });
    expect(line.req).to.include({ method: 'GET', url: '/api/v1/jobs' });
    expect(line.res).to.deep.equal({ statusCode: 200 });
  });

  it('generates a request id when none (or an unsafe one) is given', async () => {
    const none = await t.api.get('/healthz');
    expect(none.headers['x-request-id']).to.match(UUID_RE);
    const unsafe = await t.api.get('/healthz').set('X-Request-Id', 'bad id\twith spaces');
    expect(unsafe.headers['x-request-id']).to.match(UUID_RE);
  });

  it('keeps the Authorization header and other secrets out of the log', async () => {
    const secret = 'Bearer tok-foundation-very-secret';
    await t.api.get('/api/v1/jobs').set('Authorization', secret).set('Cookie', 'session=cookie-secret').set('X-Request-Id', 'req-auth');
    await t.api.post('/api/v1/jobs').set('Authorization', secret).set('Content-Type', 'application/json').send('{bad');
    expect(t.logs.some((l) => l.includes('req-auth'))).to.equal(true);
    for (const l of t.logs) {
      expect(l).not.to.include('tok-foundation-very-secret');
      expect(l).not.to.include('cookie-secret');
    }
  });
});
