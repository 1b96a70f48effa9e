// Request body size limits: BODY_LIMIT (2 MiB) for every route, BATCH_BODY_LIMIT
// (16 MiB) for the batch route, counted after decompression. Over the limit is a
// 413 problem and nothing is written.
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { jobBody, setup, type TestService } from '../support/service.ts';

const MiB = 1024 * 1024;
/** A create body whose JSON text is exactly `bytes` long. */
function bodyOfSize(bytes: number, overrides: Record<string, unknown> = {}): string {
  const base = JSON.stringify(jobBody({ ...overrides, input: { pad: '' } }));
  return base.replace('"pad":""', `"pad":"${'x'.repeat(bytes - base.length)}"`);
}
const countJobs = async (t: TestService) => Number((await t.sql.query('SELECT count(*) FROM jobs')).rows[0].count);

describe('body size limits', () => {
  let t: TestService;
  before(async () => {
    // Input limit raised so the body limit is what is tested.
    t = await setup({ MAX_INPUT_BYTES: '32mb' });
  });
  after(() => t.close());

  // serialize: send the bytes as they are (supertest would JSON-encode a Buffer).
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    t.api
      .post(path)
      .set({ 'Content-Type': 'application/json', ...headers })
      .serialize((x) => x)
      .send(body as string);

  it('accepts a body of exactly BODY_LIMIT (2 MiB) and refuses one byte more with 413', async () => {
    await post('/api/v1/jobs', bodyOfSize(2 * MiB)).expect(201);
    const before = await countJobs(t);
    const res = await post('/api/v1/jobs', bodyOfSize(2 * MiB + 1)).expect(413);
    expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(res.body).to.include({ code: 'too_large', detail: `request body is over ${2 * MiB} bytes` });
    expect(await countJobs(t)).to.equal(before);
  });

  it('applies BODY_LIMIT to worker calls too', async () => {
    const body = JSON.stringify({ lease_token: '0b9c1f0e-3f7a-4c1e-9d47-2f9a1c3e5b77', result: { pad: 'x'.repeat(2 * MiB) } });
    await post('/api/v1/jobs/0193a000-0000-7000-8000-000000000000/complete', body).expect(413);
  });

  it('lets a batch through up to BATCH_BODY_LIMIT (16 MiB) and refuses more with 413', async () => {
    const item = (n: number) => ({ owner_ref: `b/${n}`, input: { pad: 'x'.repeat(3 * MiB) } });
    const defaults = { owner_service: 'telephony', task_type: 'limits', model_profile: 'p' };
    const ok = await post('/api/v1/jobs/batch', JSON.stringify({ defaults, jobs: [1, 2, 3].map(item) })).expect(201);
    expect(ok.body.jobs).to.have.length(3);
    const before = await countJobs(t);
    const big = JSON.stringify({ defaults, jobs: [1, 2, 3, 4, 5, 6].map(item) });
    expect(big.length).to.be.greaterThan(16 * MiB);
    const res = await post('/api/v1/jobs/batch', big).expect(413);
    expect(res.body.detail).to.equal(`request body is over ${16 * MiB} bytes`);
    expect(await countJobs(t)).to.equal(before);
  });

  it('counts a compressed body after inflating it', async () => {
    const zipped = gzipSync(bodyOfSize(3 * MiB));
    expect(zipped.length).to.be.lessThan(64 * 1024);
    await post('/api/v1/jobs', zipped, { 'Content-Encoding': 'gzip' }).expect(413);
    await post('/api/v1/jobs', gzipSync(bodyOfSize(1000)), { 'Content-Encoding': 'gzip' }).expect(201);
  });

  it('answers a corrupt compressed body with 400, not 500', async () => {
    const res = await post('/api/v1/jobs', Buffer.from('not gzip at all'), { 'Content-Encoding': 'gzip' }).expect(400);
    expect(res.body.code).to.equal('malformed_body');
  });

  it('takes the limits from BODY_LIMIT and BATCH_BODY_LIMIT', async () => {
    const small = await setup({ BODY_LIMIT: '64kb', BATCH_BODY_LIMIT: '128kb' });
    try {
      const postTo = (path: string, text: string) => small.api.post(path).set('Content-Type', 'application/json').send(text);
      await postTo('/api/v1/jobs', bodyOfSize(64 * 1024)).expect(201);
      await postTo('/api/v1/jobs', bodyOfSize(64 * 1024 + 1)).expect(413);
      const batch = (pad: number) => JSON.stringify({ jobs: [{ ...jobBody(), input: { pad: 'x'.repeat(pad) } }] });
      await postTo('/api/v1/jobs/batch', batch(100 * 1024)).expect(201);
      await postTo('/api/v1/jobs/batch', batch(130 * 1024)).expect(413);
    } finally {
      await small.close();
    }
  });

  it('refuses JSON that is not UTF-8 with 415', async () => {
    const text = Buffer.from(JSON.stringify(jobBody()), 'utf16le');
    const res = await post('/api/v1/jobs', text, { 'Content-Type': 'application/json; charset=utf-16le' }).expect(415);
    expect(res.body.code).to.equal('unsupported_media_type');
  });
});
