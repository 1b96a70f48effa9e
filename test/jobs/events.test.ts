// Event streams (SSE), create-and-wait and GET ?wait, through the API of one or two
// replicas on one database.
import { expect } from 'chai';
import { as, env as authEnv, OWNER_A, TOKENS } from '../auth/fixtures.ts';
import { preferredWait } from '../../src/jobs/job-wait.ts';
import { given } from '../support/factory.ts';
import { waitFor } from '../support/wait.ts';
import { client, jobBody, setup, type TestService } from '../support/service.ts';
import { openStream, type SseStream } from '../support/sse.ts';
import { PROFILE } from './helpers.ts';

describe('job event streams', () => {
  let a: TestService;
  let b: TestService;
  const streams: SseStream[] = [];
  const open = async (t: TestService, path: string, headers: Record<string, string> = {}) => {
    const s = await openStream(`${t.url}${path}`, headers);
    streams.push(s);
    return s;
  };

  before(async () => {
    a = await setup({ EVENT_STREAMS_MAX: '3', EVENT_STREAM_KEEPALIVE: '100ms' });
    b = await setup({}, a.databaseUrl);
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await Promise.all([a, b].map((t) => waitForStreams(t, 0)));
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  const waitForStreams = (t: TestService, n: number) => waitFor(`${n} open streams`, () => t.service.jobs.streams.count === n);

  it('streams every status change and progress in order across two replicas, then ends', async () => {
    const apiA = client(a.api);
    const apiB = client(b.api);
    const profile = 'events-two-replicas';
    const job = await apiA.create(jobBody({ model_profile: profile }));
    const stream = await open(a, `/api/v1/jobs/${job.id}/events`);
    expect(stream.status).to.equal(200);
    expect(stream.headers.get('content-type')).to.match(/^text\/event-stream/);
    await stream.waitForCount(1);
    const [claimed] = (await apiB.claim({ worker_id: 'w', model_profiles: [profile] })).jobs;
    await stream.waitForCount(2);
    await b.api
      .post(`/api/v1/jobs/${job.id}/progress`)
      .send({ lease_token: claimed.lease_token, fraction: 0.5, message: 'half' })
      .expect(202);
    await stream.waitForCount(3);
    await apiB.complete(job.id, { lease_token: claimed.lease_token, result: { text: 'done' } });
    await stream.ended;
    const seen = stream.events.map((e) => [e.event, e.data.status ?? e.data.message]);
    expect(seen).to.deep.equal([
      ['status', 'pending'],
      ['status', 'running'],
      ['progress', 'half'],
      ['status', 'completed'],
    ]);
    const ids = stream.events.map((e) => BigInt(e.id!));
    expect([...ids].sort((x, y) => (x < y ? -1 : 1))).to.deep.equal(ids);
    expect(stream.events[3].data.result).to.deep.equal({ text: 'done' });
    expect(stream.events[0].data).to.not.have.property('input');
  });

  it('stores a status event as what changed, and streams it as the whole job without input', async () => {
    const api = client(a.api);
    const job = await api.create(jobBody({ model_profile: 'events-compact', idempotency_key: 'compact-1' }));
    const summary = async () => (await a.sql.query(`SELECT job_summary_json(j) AS s FROM jobs j WHERE id = $1::uuid`, [job.id])).rows[0].s;
    const pending = await summary();
    const stream = await open(a, `/api/v1/jobs/${job.id}/events`);
    const [first] = await stream.waitForCount(1);
    expect(first.data).to.deep.equal(pending);
    expect(first.data).to.include({ id: job.id, owner_ref: job.owner_ref, idempotency_key: 'compact-1', status: 'pending' });
    // migration 017: the row holds only the fields that change over the job's life
    const { rows } = await a.sql.query(`SELECT data FROM job_events WHERE job_id = $1::uuid AND kind = 'status'`, [job.id]);
    expect(Object.keys(rows[0].data).sort()).to.deep.equal(
      ['attempts', 'deferrals', 'error', 'finished_at', 'lease_expires_at', 'max_attempts', 'result', 'run_after']
        .concat(['started_at', 'status', 'updated_at', 'worker_id'])
        .sort(),
    );
    // An event stored whole (before migration 017) streams the same on a resume.
    const { rows: old } = await a.sql.query(
      `INSERT INTO job_events (job_id, kind, data) SELECT id, 'status', job_summary_json(j) FROM jobs j WHERE id = $1::uuid
       RETURNING id::text`,
      [job.id],
    );
    const resumed = await open(a, `/api/v1/jobs/${job.id}/events`, { 'last-event-id': first.id! });
    const [replayed] = await resumed.waitForCount(1);
    expect(replayed.id).to.equal(old[0].id);
    expect(replayed.data).to.deep.equal(pending);
  });

  it('resumes from Last-Event-ID after a dropped connection without losing a status change', async () => {
    const api = client(a.api);
    const profile = 'events-resume';
    const job = await api.create(jobBody({ model_profile: profile }));
    const first = await open(a, `/api/v1/jobs/${job.id}/events`);
    const [pending] = await first.waitForCount(1);
    first.close();
    await waitForStreams(a, 0);
    // Changes while disconnected: claimed, failed back to pending, claimed again, completed.
    const [c1] = (await api.claim({ worker_id: 'w', model_profiles: [profile] })).jobs;
    await api.fail(job.id, { lease_token: c1.lease_token, category: 'provider_error', message: 'x', retry_after_seconds: 0 });
    await a.sql.query(`UPDATE jobs SET run_after = now() WHERE id = $1::uuid`, [job.id]);
    await a.sql.query(`UPDATE pgboss.job SET start_after = now() WHERE id = $1::uuid`, [job.id]);
    const [c2] = (await api.claim({ worker_id: 'w', model_profiles: [profile] })).jobs;
    await api.complete(job.id, { lease_token: c2.lease_token, result: {} });
    const resumed = await open(a, `/api/v1/jobs/${job.id}/events`, { 'last-event-id': pending.id! });
    await resumed.ended;
    expect(resumed.events.map((e) => e.data.status)).to.deep.equal(['running', 'pending', 'running', 'completed']);
    // Resuming after the terminal event ends the stream at once.
    const after = await open(a, `/api/v1/jobs/${job.id}/events`, { 'last-event-id': resumed.events[3].id! });
    await after.ended;
    expect(after.events).to.deep.equal([]);
  });

  it('starts a finished job with its final status and ends', async () => {
    const job = await given.job(a, { status: 'failed' });
    const s = await open(b, `/api/v1/jobs/${job.id}/events`);
    await s.ended;
    expect(s.events.map((e) => [e.event, e.data.status])).to.deep.equal([['status', 'failed']]);
  });

  it('sends a keep-alive comment on an idle stream', async () => {
    const job = await given.job(a, { status: 'pending' });
    const s = await open(a, `/api/v1/jobs/${job.id}/events`);
    await s.waitForCount(1);
    const deadline = Date.now() + 5000;
    while (!s.comments.includes('keep-alive') && Date.now() < deadline) await s.waitForCount(2, 150).catch(() => {});
    expect(s.comments).to.include('keep-alive');
  });

  it(`serves at most EVENT_STREAMS_MAX streams per replica, then 503 with Retry-After`, async () => {
    const job = await given.job(a, { status: 'pending' });
    for (let i = 0; i < 3; i++) await (await open(a, `/api/v1/jobs/${job.id}/events`)).waitForCount(1);
    const refused = await a.api.get(`/api/v1/jobs/${job.id}/events`);
    expect(refused.status).to.equal(503);
    expect(refused.headers['content-type']).to.match(/application\/problem\+json/);
    expect(refused.headers['retry-after']).to.equal('1');
    expect(refused.body.code).to.equal('too_many_streams');
    // Another replica has its own budget.
    expect((await open(b, `/api/v1/jobs/${job.id}/events`)).status).to.equal(200);
  });

  it('streams the events of every job of one owner_ref, including jobs created later', async () => {
    const api = client(a.api);
    const ref = `beeline/call-owner-${Date.now()}`;
    const first = await api.create(jobBody({ owner_ref: ref, task_type: 'transcribe', model_profile: 'events-owner' }));
    const s = await open(b, `/api/v1/events?owner_service=telephony&owner_ref=${encodeURIComponent(ref)}`);
    await s.waitForCount(1);
    const second = await api.create(jobBody({ owner_ref: ref, task_type: 'call_analysis', model_profile: 'events-owner' }));
    await api.create(jobBody({ owner_ref: `${ref}-other`, model_profile: 'events-owner' }));
    await api.cancel(first.id);
    await s.waitForCount(3);
    expect(s.events.map((e) => [e.data.id, e.data.status])).to.deep.equal([
      [first.id, 'pending'],
      [second.id, 'pending'],
      [first.id, 'cancelled'],
    ]);
  });

  it('answers 404 for an unknown job and 400 for a malformed id', async () => {
    expect((await a.api.get('/api/v1/jobs/0193aaaa-0000-7000-8000-000000000000/events')).status).to.equal(404);
    expect((await a.api.get('/api/v1/jobs/not-a-uuid/events')).status).to.equal(400);
    expect((await a.api.get('/api/v1/events?owner_service=telephony')).status).to.equal(400);
  });

  describe('create and wait', () => {
    it('answers a create with Prefer wait as soon as the job finishes', async () => {
      const api = client(b.api);
      const profile = 'events-wait';
      const body = jobBody({ model_profile: profile, idempotency_key: `wait-${Date.now()}` });
      const started = Date.now();
      const pending = a.api
        .post('/api/v1/jobs')
        .set('Prefer', 'wait=30')
        .send(body)
        .then((r) => r); // then() sends it now
      const [claimed] = (await api.claim({ worker_id: 'w', model_profiles: [profile], wait_seconds: 10 })).jobs;
      await api.complete(claimed.id, { lease_token: claimed.lease_token, result: { text: 'fast' } });
      const res = await pending;
      expect(res.status).to.equal(201);
      expect(res.headers['preference-applied']).to.equal('wait=30');
      expect(res.body).to.include({ id: claimed.id, status: 'completed' });
      expect(res.body.result).to.deep.equal({ text: 'fast' });
      expect(Date.now() - started).to.be.below(10_000);
      // An idempotent replay waits the same way; the job is finished, so at once.
      const replay = await a.api.post('/api/v1/jobs').set('Prefer', 'wait=30').send(body);
      expect(replay.status).to.equal(200);
      expect(replay.body.status).to.equal('completed');
    });

    it('answers with the job as it stands when the wait runs out', async () => {
      const started = Date.now();
      const res = await a.api
        .post('/api/v1/jobs')
        .set('Prefer', 'wait=1')
        .send(jobBody({ model_profile: 'events-wait-timeout' }));
      expect(res.status).to.equal(201);
      expect(res.headers['preference-applied']).to.equal('wait=1');
      expect(res.body.status).to.equal('pending');
      expect(Date.now() - started).to.be.within(900, 5000);
    });

    it('reads Prefer wait=N, capped at 60 s', () => {
      expect(preferredWait('wait=600')).to.equal(60);
      expect(preferredWait('respond-async, wait=5')).to.equal(5);
      expect(preferredWait('return=minimal')).to.equal(undefined);
      expect(preferredWait(undefined)).to.equal(undefined);
    });

    it('answers GET ?wait as soon as the status changes, or with the job unchanged when the wait runs out', async () => {
      const job = await given.job(a, { status: 'running' });
      const waiting = b.api.get(`/api/v1/jobs/${job.id}?wait=30`).then((r) => r);
      const started = Date.now();
      await waitFor('the GET waiting', () => b.service.jobs.hub.listeners > 0);
      await client(a.api).complete(job.id, { lease_token: job.lease_token, result: {} });
      const res = await waiting;
      expect(res.status).to.equal(200);
      expect(res.body.status).to.equal('completed');
      expect(Date.now() - started).to.be.below(10_000);
      const idle = await given.job(a, { status: 'pending' });
      const t0 = Date.now();
      const same = await a.api.get(`/api/v1/jobs/${idle.id}?wait=1`);
      expect(same.body.status).to.equal('pending');
      expect(Date.now() - t0).to.be.within(900, 5000);
      expect((await a.api.get(`/api/v1/jobs/${idle.id}?wait=61`)).status).to.equal(400);
    });
  });
});

describe('job event streams: access rules', () => {
  let t: TestService;
  before(async () => {
    t = await setup(authEnv());
  });
  after(() => t.close());

  it("answers 404 for another owner's job and 403 for another owner's owner_ref stream", async () => {
    const job = (
      await as(t.api.post('/api/v1/jobs'), TOKENS.producerA)
        .send(jobBody({ owner_service: OWNER_A, model_profile: PROFILE }))
        .expect(201)
    ).body;
    await as(t.api.get(`/api/v1/jobs/${job.id}/events`), TOKENS.producerB).expect(404);
    await as(t.api.get(`/api/v1/jobs/${job.id}?wait=1`), TOKENS.producerB).expect(404);
    await as(t.api.get(`/api/v1/events?owner_service=${OWNER_A}&owner_ref=x`), TOKENS.producerB).expect(403);
    await as(t.api.get(`/api/v1/jobs/${job.id}/events`), TOKENS.worker).expect(403);
    const own = await openStream(`${t.url}/api/v1/jobs/${job.id}/events`, { authorization: `Bearer ${TOKENS.producerA}` });
    await own.waitForCount(1);
    own.close();
  });
});
