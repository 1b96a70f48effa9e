import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { client, jobBody, setup, type TestService } from '../support/service.ts';
import { waitUntil } from '../support/wait.ts';
import { type Receiver, type Reply, startReceiver } from './receiver.ts';

const SECRET = `whsec_${Buffer.from('test-signing-key-0123456789').toString('base64')}`;
const ENV = {
  WEBHOOK_SECRET: SECRET,
  WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  // The receivers run on 127.0.0.1, a loopback address.
  WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
  WEBHOOK_RETRY_BASE: '0',
  WEBHOOK_TIMEOUT: '300ms',
  WEBHOOK_POLL_INTERVAL: '20ms',
};

// The receiver-side recipe from src/webhooks/README.md, written out independently of src/.
function verify(secret: string, id: string, timestamp: string, signature: string, body: string): boolean {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret);
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return signature.split(' ').includes(`v1,${expected}`);
}

describe('completion callbacks (webhooks)', () => {
  let t: TestService;
  let api: ReturnType<typeof client>;
  const receivers: Receiver[] = [];
  before(async () => {
    t = await setup(ENV);
    api = client(t.api);
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await t.close();
  });

  async function receiver(replies?: Reply[]) {
    const r = await startReceiver(replies);
    receivers.push(r);
    return r;
  }

  async function runToCompletion(callbackUrl: string, extra: object = {}) {
    const job = await api.create(jobBody({ callback_url: callbackUrl, model_profile: 'hooks', ...extra }));
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: ['hooks'] });
    await api.complete(job.id, { lease_token: jobs[0].lease_token, result: { content: 'done' } });
    return job;
  }

  const deliveryOf = (id: string, status: string) =>
    waitUntil(
      async () => {
        const job = await api.get(id);
        return job.callback?.status === status ? job.callback : undefined;
      },
      { what: `callback ${status}` },
    );

  it('posts a signed job.completed event that verifies with the documented recipe', async () => {
    const r = await receiver();
    const job = await runToCompletion(r.url);
    const [req] = await r.waitFor(1);
    const body = JSON.parse(req.body);
    expect(body.type).to.equal('job.completed');
    expect(body.data).to.include({ id: job.id, status: 'completed' });
    expect(body.data.result).to.deep.equal({ content: 'done' });
    const h = req.headers as Record<string, string>;
    expect(verify(SECRET, h['webhook-id'], h['webhook-timestamp'], h['webhook-signature'], req.body)).to.equal(true);
    expect(verify('whsec_d3Jvbmc=', h['webhook-id'], h['webhook-timestamp'], h['webhook-signature'], req.body)).to.equal(false);
    const cb = await deliveryOf(job.id, 'delivered');
    expect(cb).to.include({ event: 'job.completed', attempts: 1, last_status_code: 204 });
  });

  it('posts an opted-in, signed job.progress event at most once per 2 s per job', async () => {
    const r = await receiver();
    const job = await api.create(
      jobBody({ callback_url: r.url, model_profile: 'hooks-progress', callback_events: ['progress', 'completed'] }),
    );
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: ['hooks-progress'] });
    const report = (fraction: number) =>
      t.api.post(`/api/v1/jobs/${job.id}/progress`).send({ lease_token: jobs[0].lease_token, fraction }).expect(202);
    await report(0.1);
    // A second report, stored when its coalescing window ends: inside the 2 s throttle.
    await report(0.2);
    await waitUntil(async () => (await api.get(job.id)).progress.fraction === 0.2, { what: 'the second report stored' });
    await api.complete(job.id, { lease_token: jobs[0].lease_token, result: { content: 'done' } });
    const received = await r.waitFor(2);
    const types = received.map((req) => JSON.parse(req.body).type);
    expect(types.sort()).to.deep.equal(['job.completed', 'job.progress']);
    const progress = received.find((req) => JSON.parse(req.body).type === 'job.progress')!;
    expect(JSON.parse(progress.body).data).to.include({ job_id: job.id, fraction: 0.1 });
    const h = progress.headers as Record<string, string>;
    expect(verify(SECRET, h['webhook-id'], h['webhook-timestamp'], h['webhook-signature'], progress.body)).to.equal(true);
  });

  it('retries a receiver failing twice with 503, keeping the same webhook-id, and delivers once', async () => {
    const r = await receiver([{ status: 503 }, { status: 503 }, { status: 200 }]);
    const job = await runToCompletion(r.url);
    await r.waitFor(3);
    const cb = await deliveryOf(job.id, 'delivered');
    expect(cb.attempts).to.equal(3);
    const metrics = (await t.api.get('/metrics')).text;
    expect(metrics).to.match(/ai_service_webhook_attempts_total\{outcome="retrying"\} [1-9]/);
    expect(metrics).to.match(/ai_service_webhook_attempts_total\{outcome="delivered"\} [1-9]/);
    expect(new Set(r.received.map((x) => x.headers['webhook-id'])).size).to.equal(1);
    // delivered is final: no attempt after the successful third
    expect(r.received).to.have.length(3);
  });

  it('stops at once on 410 Gone', async () => {
    const r = await receiver([{ status: 410 }]);
    const job = await runToCompletion(r.url);
    const cb = await deliveryOf(job.id, 'failed');
    expect(cb).to.include({ attempts: 1, last_status_code: 410 });
    const boss = await t.sql.query(`SELECT state FROM pgboss.job WHERE name = 'webhooks' AND data->>'job_id' = $1`, [job.id]);
    expect(boss.rows[0].state).to.equal('failed');
    expect(r.received).to.have.length(1);
  });

  it('times out a slow receiver and retries it', async () => {
    const r = await receiver([{ status: 200, delayMs: 2000 }, { status: 200 }]);
    const job = await runToCompletion(r.url);
    const cb = await deliveryOf(job.id, 'delivered');
    expect(cb.attempts).to.equal(2);
  });

  it('honours Retry-After on 429', async () => {
    const r = await receiver([{ status: 429, headers: { 'retry-after': '1' } }, { status: 200 }]);
    await runToCompletion(r.url);
    const [first, second] = await r.waitFor(2);
    expect(second.at - first.at).to.be.at.least(900);
  });

  it('sends job.running when asked and the terminal event after it', async () => {
    const r = await receiver();
    await runToCompletion(r.url, { callback_events: ['running', 'completed'] });
    const got = await r.waitFor(2);
    expect(got.map((x) => JSON.parse(x.body).type).sort()).to.deep.equal(['job.completed', 'job.running']);
  });

  it('rejects callback URLs outside the allow-list, with credentials, or not http(s) (422)', async () => {
    for (const url of ['http://evil.example.com/x', 'http://user:pw@127.0.0.1/x', 'ftp://127.0.0.1/x']) {
      const res = await t.api.post('/api/v1/jobs').send(jobBody({ callback_url: url }));
      expect(res.status, url).to.equal(422);
      expect(res.headers['content-type']).to.match(/problem\+json/);
    }
    const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM jobs WHERE callback_url LIKE '%evil%'`);
    expect(rows[0].n).to.equal(0);
  });

  it('enqueues a delivery only when the state change commits', async () => {
    const job = await api.create(jobBody({ callback_url: 'http://127.0.0.1:9/none', model_profile: 'tx' }));
    const count = async () => {
      const d = await t.sql.query('SELECT count(*)::int AS n FROM webhook_deliveries WHERE job_id = $1', [job.id]);
      const b = await t.sql.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'webhooks' AND data->>'job_id' = $1`, [job.id]);
      return [d.rows[0].n, b.rows[0].n];
    };
    const c = await t.sql.connect();
    try {
      await c.query('BEGIN');
      await c.query(`UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id = $1`, [job.id]);
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
    expect(await count()).to.deep.equal([0, 0]);
    await api.cancel(job.id);
    expect(await count()).to.deep.equal([1, 1]);
  });
});

describe('webhook deliveries across a restart', () => {
  it('delivers a callback left pending when the service stopped', async () => {
    const r = await startReceiver();
    // The first service never polls again after its first (empty) fetch.
    const first = await setup({ ...ENV, WEBHOOK_POLL_INTERVAL: '1h' });
    try {
      const api = client(first.api);
      const job = await api.create(jobBody({ callback_url: r.url, model_profile: 'restart' }));
      await api.cancel(job.id);
      const { rows } = await first.sql.query('SELECT status FROM webhook_deliveries WHERE job_id = $1', [job.id]);
      expect(rows[0].status).to.equal('pending');
      await first.close();
      const second = await setup(ENV, first.databaseUrl);
      try {
        const [req] = await r.waitFor(1);
        expect(JSON.parse(req.body)).to.include({ type: 'job.cancelled' });
      } finally {
        await second.close();
      }
    } finally {
      await r.close();
    }
  });
});
