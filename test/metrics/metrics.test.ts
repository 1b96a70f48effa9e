import { expect } from 'chai';
import { client, jobBody, setup, type TestService } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';
import { type Family, parseExposition, value } from './exposition.ts';

const P = 'ai_service_';
const Q = { task_type: 'call_analysis', model_profile: 'metrics-a' };

describe('GET /metrics', () => {
  let t: TestService;
  let api: ReturnType<typeof client>;
  before(async () => {
    t = await setup();
    api = client(t.api);
  });
  after(() => t.close());

  const scrape = async (): Promise<Map<string, Family>> => {
    const res = await t.api.get('/metrics');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('text/plain; version=0.0.4; charset=utf-8');
    return parseExposition(res.text);
  };
  /** The change of each counter between two scrapes. */
  const delta = (a: Map<string, Family>, b: Map<string, Family>, name: string, labels: Record<string, string> = Q) =>
    value(b, name, labels) - value(a, name, labels);

  it('serves valid exposition format with job, queue, HTTP and default process metrics', async () => {
    await api.create(jobBody(Q));
    const m = await scrape();
    for (const [name, type] of [
      [`${P}jobs_created_total`, 'counter'],
      [`${P}jobs_claimed_total`, 'counter'],
      [`${P}jobs_completed_total`, 'counter'],
      [`${P}jobs_failed_total`, 'counter'],
      [`${P}jobs_retried_total`, 'counter'],
      [`${P}jobs_cancelled_total`, 'counter'],
      [`${P}jobs_lease_expired_total`, 'counter'],
      [`${P}jobs`, 'gauge'],
      [`${P}jobs_delayed`, 'gauge'],
      [`${P}queue_oldest_ready_age_seconds`, 'gauge'],
      [`${P}stats_up`, 'gauge'],
      [`${P}job_queue_wait_seconds`, 'histogram'],
      [`${P}job_run_seconds`, 'histogram'],
      [`${P}http_request_duration_seconds`, 'histogram'],
      ['process_cpu_user_seconds_total', 'counter'],
      ['process_resident_memory_bytes', 'gauge'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
    ]) {
      expect(m.get(name)?.type, name).to.equal(type);
      expect(m.get(name)?.help, name).to.not.equal('');
    }
    expect(value(m, `${P}stats_up`)).to.equal(1);
    expect(value(m, `${P}jobs_created_total`, Q)).to.equal(1);
  });

  it('moves the job counters, histograms and queue gauges as jobs move', async () => {
    const before = await scrape();
    const [a, b, c] = [await api.create(jobBody(Q)), await api.create(jobBody(Q)), await api.create(jobBody(Q))];
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [Q.model_profile], limit: 4 });
    expect(jobs.map((j: { id: string }) => j.id)).to.include.members([a.id, b.id, c.id]);
    const lease = (id: string) => jobs.find((j: { id: string }) => j.id === id).lease_token;
    await api.complete(a.id, { lease_token: lease(a.id), result: {} });
    await api.fail(b.id, { lease_token: lease(b.id), category: 'provider_unavailable', message: 'down', retry_after_seconds: 3600 });
    await api.fail(c.id, { lease_token: lease(c.id), category: 'invalid_input', message: 'bad', retryable: false });
    await api.retry(c.id);
    await api.cancel(c.id);

    const stats = (await api.stats()).queues.find((q: any) => q.queue === 'call_analysis/metrics-a');
    // The queue gauges are cached for up to a second: wait for a scrape that has caught up.
    const after = await waitFor('the queue gauges to catch up', async () => {
      const m = await scrape();
      return value(m, `${P}jobs`, { ...Q, status: 'cancelled' }) === 1 ? m : undefined;
    });
    expect(delta(before, after, `${P}jobs_created_total`)).to.equal(3);
    expect(delta(before, after, `${P}jobs_claimed_total`)).to.equal(4);
    expect(delta(before, after, `${P}jobs_completed_total`)).to.equal(1);
    expect(delta(before, after, `${P}jobs_failed_total`, { ...Q, category: 'provider_unavailable' })).to.equal(1);
    expect(delta(before, after, `${P}jobs_failed_total`, { ...Q, category: 'invalid_input' })).to.equal(1);
    // b went back to pending by its retryable failure, c by the operator's retry.
    expect(delta(before, after, `${P}jobs_retried_total`)).to.equal(2);
    expect(delta(before, after, `${P}jobs_cancelled_total`)).to.equal(1);
    expect(delta(before, after, `${P}job_queue_wait_seconds_count`)).to.equal(4);
    expect(delta(before, after, `${P}job_run_seconds_count`, { ...Q, outcome: 'completed' })).to.equal(1);
    expect(delta(before, after, `${P}job_run_seconds_count`, { ...Q, outcome: 'failed' })).to.equal(2);
    for (const status of ['pending', 'running', 'completed', 'failed', 'cancelled'])
      expect(value(after, `${P}jobs`, { ...Q, status }), status).to.equal(stats[status]);
    expect(value(after, `${P}jobs_delayed`, Q)).to.equal(stats.delayed);
  });

  it('counts an expired lease as lease_expired, a failed attempt and a retry', async () => {
    const Ql = { task_type: 'call_analysis', model_profile: 'metrics-lease' };
    const before = await scrape();
    const job = await api.create(jobBody({ ...Ql, max_attempts: 2 }));
    await api.claim({ worker_id: 'w', model_profiles: [Ql.model_profile], lease_seconds: 1 });
    await waitFor('the reaper', async () => ((await api.get(job.id)).status === 'pending' ? true : undefined));
    const after = await scrape();
    expect(delta(before, after, `${P}jobs_lease_expired_total`, Ql)).to.equal(1);
    expect(delta(before, after, `${P}jobs_failed_total`, { ...Ql, category: 'lease_expired' })).to.equal(1);
    expect(delta(before, after, `${P}jobs_retried_total`, Ql)).to.equal(1);
  });

  it('labels HTTP durations by route pattern and status, never by raw URL', async () => {
    const job = await api.create(jobBody(Q));
    await api.get(job.id);
    await t.api.get('/api/v1/jobs/not-a-uuid');
    await t.api.get('/no/such/route');
    const m = await scrape();
    const http = m.get(`${P}http_request_duration_seconds`)!;
    const count = (route: string, status_code: string, method = 'GET') =>
      value(m, `${P}http_request_duration_seconds_count`, { method, route, status_code });
    expect(count('/api/v1/jobs/:id', '200')).to.be.at.least(1);
    expect(count('/api/v1/jobs/:id', '400')).to.equal(1);
    expect(count('/api/v1/jobs', '201', 'POST')).to.be.at.least(1);
    expect(count('unmatched', '404')).to.equal(1);
    const routes = new Set(http.samples.map((s) => s.labels.route));
    for (const r of routes) expect(r, 'no ids or raw paths in route labels').to.not.match(/[0-9a-f]{8}-|not-a-uuid|no\/such/);
  });
});

describe('GET /metrics with METRICS_TOKEN', () => {
  let t: TestService;
  before(async () => {
    t = await setup({ METRICS_TOKEN: 'scrape-secret-123' });
  });
  after(() => t.close());

  it('answers 401 problem+json without the bearer token', async () => {
    for (const auth of [undefined, 'Bearer wrong', 'Basic c2NyYXBlLXNlY3JldC0xMjM=', 'Bearer scrape-secret-1234']) {
      const req = t.api.get('/metrics');
      const res = await (auth ? req.set('Authorization', auth) : req);
      expect(res.status, String(auth)).to.equal(401);
      expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(res.headers['www-authenticate']).to.equal('Bearer realm="metrics"');
      expect(res.body.code).to.equal('unauthorized');
    }
  });

  it('serves the metrics with the right token and never logs it', async () => {
    const res = await t.api.get('/metrics').set('Authorization', 'Bearer scrape-secret-123');
    expect(res.status).to.equal(200);
    parseExposition(res.text);
    expect(t.logs.join('')).to.not.include('scrape-secret-123');
  });
});
