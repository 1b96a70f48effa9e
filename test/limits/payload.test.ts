// Limits on what goes into a job: input and result size (MAX_INPUT_BYTES,
// MAX_RESULT_BYTES: 1 MiB), JSON nesting (JSON_MAX_DEPTH: 64, and any body at
// all nested far deeper is a 400, never a 500), and the string lengths from
// openapi.yaml. Each is tested at the limit and one past it.
import { expect } from 'chai';
import { given } from '../support/factory.ts';
import { client, jobBody, setup, type TestService } from '../support/service.ts';

const MiB = 1024 * 1024;
/** An object whose JSON text is exactly `bytes` long. */
const sized = (bytes: number) => ({ pad: 'x'.repeat(bytes - '{"pad":""}'.length) });
/** `depth` levels of objects: {"a":{"a":…{}}}. */
const nested = (depth: number): Record<string, unknown> => (depth <= 1 ? {} : { a: nested(depth - 1) });

describe('payload limits', () => {
  let t: TestService;
  let api: ReturnType<typeof client>;
  let n = 0;
  before(async () => {
    t = await setup();
    api = client(t.api);
  });
  after(() => t.close());

  /** A running job of its own queue and its lease token. */
  async function running() {
    const job = await given.job(t, { status: 'running', task_type: `payload_${++n}` });
    return { id: job.id, lease: job.lease_token! };
  }

  it('accepts input of exactly MAX_INPUT_BYTES (1 MiB) and refuses one byte more with 413', async () => {
    await api.create(jobBody({ input: sized(MiB) }), 201);
    const res = await api.create(jobBody({ input: sized(MiB + 1) }), 413);
    expect(res.detail).to.equal(`/body/input is ${MiB + 1} bytes; the limit is ${MiB}`);
  });

  it('accepts a result of exactly MAX_RESULT_BYTES (1 MiB) and refuses one byte more with 413, keeping the lease', async () => {
    const a = await running();
    const res = await api.complete(a.id, { lease_token: a.lease, result: sized(MiB + 1) }, 413);
    expect(res.code).to.equal('too_large');
    const done = await api.complete(a.id, { lease_token: a.lease, result: sized(MiB) }, 200);
    expect(done.status).to.equal('completed');
  });

  it('takes the sizes from MAX_INPUT_BYTES and MAX_RESULT_BYTES', async () => {
    const small = await setup({ MAX_INPUT_BYTES: '1kb', MAX_RESULT_BYTES: '2kb' });
    try {
      const c = client(small.api);
      await c.create(jobBody({ input: sized(1024), task_type: 'small' }), 201);
      await c.create(jobBody({ input: sized(1025) }), 413);
      const { jobs } = await c.claim({ worker_id: 'w', task_types: ['small'] });
      await c.complete(jobs[0].id, { lease_token: jobs[0].lease_token, result: sized(2049) }, 413);
      await c.complete(jobs[0].id, { lease_token: jobs[0].lease_token, result: sized(2048) }, 200);
    } finally {
      await small.close();
    }
  });

  it('accepts input and result nested JSON_MAX_DEPTH (64) deep and refuses 65 with 400 naming the place', async () => {
    await api.create(jobBody({ input: nested(64) }), 201);
    const res = await api.create(jobBody({ input: nested(65) }), 400);
    expect(res.errors).to.deep.equal([{ path: `/body/input${'/a'.repeat(64)}`, message: 'nesting deeper than 64' }]);
    const a = await running();
    await api.complete(a.id, { lease_token: a.lease, result: nested(65) }, 400);
    await api.complete(a.id, { lease_token: a.lease, result: nested(64) }, 200);
  });

  it('answers any body nested far deeper with 400 before parsing it, never 500', async () => {
    const deep = '['.repeat(500_000) + ']'.repeat(500_000);
    const cases = [
      ['/api/v1/jobs', JSON.stringify(jobBody({ input: { x: 0 } })).replace('{"x":0}', `{"x":${deep}}`)],
      ['/api/v1/jobs/batch', `{"jobs":[{"input":{"x":${deep}}}]}`],
      ['/api/v1/jobs/claim', `{"worker_id":"w","x":${deep}}`],
    ];
    for (const [path, text] of cases) {
      const res = await t.api.post(path).set('Content-Type', 'application/json').send(text).expect(400);
      expect(res.body.detail).to.equal('request body is nested deeper than 67 levels');
    }
    // Brackets inside strings are text, not nesting.
    await api.create(jobBody({ input: { text: '['.repeat(10_000) } }), 201);
    expect(t.logs.filter((l) => l.includes('"level":50'))).to.deep.equal([]);
  });

  it('limits owner_ref to 512 characters', async () => {
    await api.create(jobBody({ owner_ref: 'r'.repeat(512) }), 201);
    const res = await api.create(jobBody({ owner_ref: 'r'.repeat(513) }), 400);
    expect(res.errors[0].path).to.equal('/body/owner_ref');
  });

  it('limits idempotency_key and worker_id to 200 characters', async () => {
    await api.create(jobBody({ idempotency_key: 'k'.repeat(200) }), 201);
    await api.create(jobBody({ idempotency_key: 'k'.repeat(201) }), 400);
    await api.claim({ worker_id: 'w'.repeat(200), task_types: ['nothing'] }, 200);
    await api.claim({ worker_id: 'w'.repeat(201), task_types: ['nothing'] }, 400);
  });

  it('limits a batch to 1000 jobs', async () => {
    const jobs = (count: number) => Array.from({ length: count }, (_, i) => ({ owner_ref: `b/${i}`, input: {} }));
    const defaults = { owner_service: 'telephony', task_type: 'batch_limit', model_profile: 'p' };
    const ok = await api.batch({ defaults, jobs: jobs(1000) }, 201);
    expect(ok.jobs).to.have.length(1000);
    const res = await api.batch({ defaults, jobs: jobs(1001) }, 400);
    expect(res.errors[0].path).to.equal('/body/jobs');
  });

  it('stores a failure message of up to 4000 characters and cuts a longer one there', async () => {
    const a = await running();
    const failed = await api.fail(a.id, { lease_token: a.lease, category: 'bad', message: `${'m'.repeat(3999)}xyz`, retryable: false });
    expect(failed.error.message).to.equal(`${'m'.repeat(3999)}x`);
    const b = await running();
    const exact = await api.fail(b.id, { lease_token: b.lease, category: 'bad', message: 'e'.repeat(4000), retryable: false });
    expect(exact.error.message).to.have.length(4000);
  });
});
