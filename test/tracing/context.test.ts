// The trace context with tracing off (no OTLP endpoint): a create's traceparent is
// stored with the job, handed to the worker with the claim and sent with the
// webhook, unchanged; a broken header is ignored, never refused.
import { expect } from 'chai';
import { loadConfig } from '../../src/config.ts';
import { loadWorkerConfig } from '../../src/worker/config.ts';
import { formatTraceparent, parseTraceparent, validTraceparent } from '../../src/tracing/traceparent.ts';
import { jobBody, useService } from '../support/service.ts';
import { startReceiver } from '../webhooks/receiver.ts';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('tracing: traceparent values', () => {
  it('parses a valid header and formats it back', () => {
    expect(parseTraceparent(TP)).to.deep.equal({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', flags: 1 });
    expect(formatTraceparent(parseTraceparent(TP)!)).to.equal(TP);
  });

  it('rejects malformed, all-zero, version ff and over-long version-00 values', () => {
    for (const bad of [
      '',
      'hello',
      TP.toUpperCase(),
      `00-${'0'.repeat(32)}-b7ad6b7169203331-01`,
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      `ff${TP.slice(2)}`,
      `${TP}-extra`,
      TP.slice(0, -1),
    ])
      expect(validTraceparent(bad), bad).to.equal(undefined);
  });

  it('accepts a later version with extra fields, keeping the version-00 part', () => {
    expect(validTraceparent(`01${TP.slice(2)}-future`)).to.equal(TP);
  });
});

describe('tracing: configuration', () => {
  it('is off without an endpoint, and adds /v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    expect(loadConfig({}).tracing).to.deep.equal({
      tracesUrl: undefined,
      serviceName: 'ai-service',
      exportDelayMs: 5000,
      exportTimeoutMs: 10_000,
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing.tracesUrl).to.equal(
      'http://collector:4318/v1/traces',
    );
    const traces = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b/traces' });
    expect(traces.tracing.tracesUrl).to.equal('http://b/traces');
  });

  it('names the worker ai-service-worker unless OTEL_SERVICE_NAME says otherwise', () => {
    const env = { LLM_BASE_URL: 'http://127.0.0.1:1/v1' };
    expect(loadWorkerConfig(env).tracing.serviceName).to.equal('ai-service-worker');
    expect(loadWorkerConfig({ ...env, OTEL_SERVICE_NAME: 'gpu-7' }).tracing.serviceName).to.equal('gpu-7');
  });

  it('rejects a bad endpoint or export delay, naming the variable', () => {
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' })).to.throw(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => loadConfig({ OTEL_BSP_SCHEDULE_DELAY: '5s' })).to.throw(/OTEL_BSP_SCHEDULE_DELAY/);
  });
});

describe('tracing: the trace context without an exporter', () => {
  const { t, api } = useService({
    WEBHOOK_SECRET: 'test-secret',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
    WEBHOOK_POLL_INTERVAL: '20ms',
  });

  const create = (traceparent: string | undefined, body: object) => {
    const req = t.api.post('/api/v1/jobs');
    if (traceparent !== undefined) req.set('traceparent', traceparent);
    return req.send(body);
  };
  const claimOne = async (profile: string) => (await api.claim({ worker_id: 'w', model_profiles: [profile] })).jobs[0];

  it('hands the creator’s traceparent to the worker with the claim, and sends it with the webhook', async () => {
    const hooks = await startReceiver();
    try {
      const created = await create(TP, jobBody({ model_profile: 'tp-1', callback_url: hooks.url }));
      expect(created.status).to.equal(201);
      expect(created.body).to.not.have.property('traceparent');
      const claimed = await claimOne('tp-1');
      expect(claimed.traceparent).to.equal(TP);
      await api.complete(claimed.id, { lease_token: claimed.lease_token, result: {} });
      const [delivery] = await hooks.waitFor(1);
      expect(delivery.headers.traceparent).to.equal(TP);
    } finally {
      await hooks.close();
    }
  });

  it('claims null when the create carried no traceparent or an invalid one, which is not refused', async () => {
    for (const header of [undefined, 'not-a-traceparent', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`]) {
      expect((await create(header, jobBody({ model_profile: 'tp-2' }))).status, String(header)).to.equal(201);
      expect((await claimOne('tp-2')).traceparent, String(header)).to.equal(null);
    }
  });

  it('gives every job of a batch the request’s traceparent', async () => {
    const res = await t.api
      .post('/api/v1/jobs/batch')
      .set('traceparent', TP)
      .send({
        defaults: { owner_service: 'telephony', task_type: 'call_analysis', model_profile: 'tp-3' },
        jobs: [
          { owner_ref: 'a', input: {} },
          { owner_ref: 'b', input: {} },
        ],
      });
    expect(res.status).to.equal(201);
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: ['tp-3'], limit: 2 });
    expect(jobs.map((j: { traceparent: string }) => j.traceparent)).to.deep.equal([TP, TP]);
  });

  it('treats an idempotent replay with another traceparent as the same request', async () => {
    const body = jobBody({ model_profile: 'tp-4', idempotency_key: 'k-1' });
    const first = await create(TP, body);
    const replay = await create('00-11111111111111111111111111111111-2222222222222222-01', body);
    expect([first.status, replay.status]).to.deep.equal([201, 200]);
    expect(replay.body.id).to.equal(first.body.id);
    expect((await claimOne('tp-4')).traceparent).to.equal(TP);
  });
});
