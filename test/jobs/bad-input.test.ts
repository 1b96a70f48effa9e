// Every kind of bad input gets a problem+json answer with the right status, and
// nothing is written.
import { expect } from 'chai';
import { jobBody, useService } from '../support/service.ts';
import { expectProblem, jobRow } from './helpers.ts';
import { expectConsistent } from '../support/consistency.ts';

describe('bad input', () => {
  const { t, api } = useService();

  async function jobCount(): Promise<number> {
    const { rows } = await t.sql.query('SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM pgboss.job) AS n');
    return rows[0].n;
  }

  /** Sends a raw request and expects a problem+json of `status`; returns the body. */
  async function raw(path: string, body: string, contentType: string, status: number) {
    const res = await t.api.post(path).set('Content-Type', contentType).send(body);
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
    return res.body;
  }

  it('answers malformed JSON with 400 malformed_json', async () => {
    expectProblem(await raw('/api/v1/jobs', '{"owner_service": ', 'application/json', 400), 'malformed_json');
    expectProblem(await raw('/api/v1/jobs/claim', '{nope}', 'application/json', 400), 'malformed_json');
  });

  it('answers a non-JSON content type with 415', async () => {
    expectProblem(await raw('/api/v1/jobs', 'owner_service=x', 'application/x-www-form-urlencoded', 415), 'unsupported_media_type');
    expectProblem(await raw('/api/v1/jobs', JSON.stringify(jobBody()), 'text/plain', 415), 'unsupported_media_type');
  });

  it('answers an oversized body with 413', async () => {
    // the single-request body limit is 2 MiB
    const body = JSON.stringify(jobBody({ input: { blob: 'x'.repeat(2 * 1024 * 1024 + 10) } }));
    expectProblem(await raw('/api/v1/jobs', body, 'application/json', 413), 'too_large');
  });

  it('answers an input or result over MAX_INPUT_BYTES / MAX_RESULT_BYTES (1 MiB) with 413', async () => {
    const big = { blob: 'x'.repeat(1024 * 1024) };
    const err = await api.create(jobBody({ input: big }), 413);
    expectProblem(err, 'too_large');
    expect(err.detail).to.include('/body/input');
    // just under the limit is fine
    await api.create(jobBody({ input: { blob: 'x'.repeat(1024 * 1024 - 20) } }), 201);
    await api.create(jobBody({ model_profile: 'bad-result' }));
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: ['bad-result'] });
    expectProblem(await api.complete(jobs[0].id, { lease_token: jobs[0].lease_token, result: big }, 413), 'too_large');
    expect((await jobRow(t.sql, jobs[0].id)).status).to.equal('running');
  });

  it('rejects unknown top-level fields with 400 naming the field', async () => {
    const before = await jobCount();
    const err = await api.create({ ...jobBody(), colour: 'red' }, 400);
    expectProblem(err, 'validation_failed');
    expect(JSON.stringify(err.errors)).to.include('colour');
    expectProblem(await api.claim({ worker_id: 'w', model_profiles: ['x'], colour: 'red' }, 400), 'validation_failed');
    expect(await jobCount()).to.equal(before);
  });

  it('rejects wrong types with 400 naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ priority: 'high' }, 'priority'],
      [{ max_attempts: 0 }, 'max_attempts'],
      [{ owner_ref: 42 }, 'owner_ref'],
      [{ run_after: 'tomorrow' }, 'run_after'],
      [{ idempotency_key: 'k'.repeat(201) }, 'idempotency_key'],
      [{ idempotency_key: 'tab\there' }, 'idempotency_key'],
      [{ owner_ref: 'line\nbreak' }, 'owner_ref'],
      [{ owner_ref: 'c1\u0085control' }, 'owner_ref'],
      [{ owner_ref: 'r'.repeat(513) }, 'owner_ref'],
      [{ task_type: '-leading-dash' }, 'task_type'],
      [{ model_profile: 'm'.repeat(65) }, 'model_profile'],
    ];
    for (const [override, field] of cases) {
      const err = await api.create(jobBody(override), 400);
      expectProblem(err, 'validation_failed');
      expect(err.errors.map((e: any) => e.path).join(), JSON.stringify(override)).to.include(`/body/${field}`);
    }
    const missing = await api.create({ owner_service: 'telephony', input: {} }, 400);
    expect(missing.errors.map((e: any) => e.path)).to.include.members(['/body/owner_ref', '/body/task_type', '/body/model_profile']);
  });

  it('accepts the documented name examples', async () => {
    for (const [task_type, model_profile] of [
      ['pf_competitor_analysis', 'qwen2.5-14b'],
      ['call_analysis', 'monitoring-tg'],
    ]) {
      await api.create(jobBody({ task_type, model_profile, owner_ref: 'beeline/звонок-1' }), 201);
    }
  });

  it('rejects an input that is not an object with 400', async () => {
    for (const input of [[1, 2], 'text', 42, null]) {
      const err = await api.create(jobBody({ input }), 400);
      expect(err.errors.map((e: any) => e.path)).to.include('/body/input');
    }
  });

  it('rejects U+0000 anywhere in input or result with 400, not 500', async () => {
    const before = await jobCount();
    for (const input of [{ text: 'a\u0000b' }, { deep: [{ x: 'ok' }, { y: '\u0000' }] }, { 'key\u0000': 1 }]) {
      const err = await api.create(jobBody({ input }), 400);
      expectProblem(err, 'validation_failed');
    }
    const err = await api.create(jobBody({ input: { deep: [{ x: 'ok' }, { y: '\u0000' }] } }), 400);
    expect(err.errors[0].path).to.equal('/body/input/deep/1/y');
    expect(await jobCount()).to.equal(before);
    await api.create(jobBody({ model_profile: 'nul-result' }));
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: ['nul-result'] });
    const res = await api.complete(jobs[0].id, { lease_token: jobs[0].lease_token, result: { text: 'x\u0000' } }, 400);
    expectProblem(res, 'validation_failed');
    expect((await jobRow(t.sql, jobs[0].id)).status).to.equal('running');
  });

  it('rejects JSON nested deeper than JSON_MAX_DEPTH (64) with 400', async () => {
    let deep: any = {};
    for (let i = 0; i < 70; i++) deep = { d: deep };
    expectProblem(await api.create(jobBody({ input: deep }), 400), 'validation_failed');
  });

  it('rejects a lone surrogate in input with 400, not 500', async () => {
    const body = JSON.stringify(jobBody()).replace('"Summarise the call."', '"\\ud800"');
    expectProblem(await raw('/api/v1/jobs', body, 'application/json', 400), 'validation_failed');
  });

  it('rejects control characters in worker_id with 400', async () => {
    expectProblem(await api.claim({ worker_id: 'gpu\u0000', model_profiles: ['x'] }, 400), 'validation_failed');
  });

  it('answers unknown routes with 404 and wrong methods with 405, as problem+json', async () => {
    const res = await t.api.get('/api/v1/nothing');
    expect(res.status).to.equal(404);
    expect(res.headers['content-type']).to.match(/problem\+json/);
    const put = await t.api.put('/api/v1/jobs').send({});
    expect(put.status).to.equal(405);
  });

  it('leaves both stores consistent after all of the above', async () => {
    await expectConsistent(t.sql);
  });
});
