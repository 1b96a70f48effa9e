// One trace from a caller's create through the worker and the provider call to the
// webhook: the service in-process and the reference worker as a child process both
// export to an OTLP/HTTP receiver on 127.0.0.1; the stand-in LLM and the webhook
// receiver check the traceparent they were sent.
import { expect } from 'chai';
import { type AiServiceClient, createClient } from '../../src/client/index.ts';
import { parseTraceparent } from '../../src/tracing/traceparent.ts';
import { jobBody, setup, type TestService } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';
import { type Receiver, startReceiver } from '../webhooks/receiver.ts';
import {
  completion,
  finished,
  freePort,
  sendJson,
  type StubServer,
  startWorker,
  stubServer,
  type WorkerProcess,
} from '../worker/support.ts';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './otlp-receiver.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';
const CALLER = `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`;

const EXPORT = { OTEL_BSP_SCHEDULE_DELAY: '50' };

describe('tracing: one trace from create to webhook', () => {
  let t: TestService;
  let api: AiServiceClient;
  let otlp: OtlpReceiver;
  let llm: StubServer;
  let hooks: Receiver;
  let worker: WorkerProcess;

  before(async () => {
    otlp = await startOtlpReceiver();
    hooks = await startReceiver();
    llm = await stubServer((_req, res) => sendJson(res, 200, completion('traced')));
    t = await setup({
      ...EXPORT,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      WEBHOOK_SECRET: 'test-secret',
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
      WEBHOOK_POLL_INTERVAL: '20ms',
    });
    api = createClient({ baseUrl: t.url });
    worker = await startWorker({
      ...EXPORT,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      AI_SERVICE_URL: t.url,
      LLM_BASE_URL: `${llm.url}/v1`,
      LLM_MODEL: 'traced-model',
      WORKER_CLAIM_WAIT: '5s',
    });
  });
  after(async () => {
    await worker?.stop();
    await t?.close();
    await llm?.close();
    await hooks?.close();
    await otlp?.close();
  });

  it('links create → claim → provider call → complete → webhook delivery, and the job’s lifetime, in the caller’s trace', async () => {
    const created = await t.api
      .post('/api/v1/jobs')
      .set('traceparent', CALLER)
      .send({
        owner_service: 'svc',
        owner_ref: 'r-1',
        task_type: 'chat',
        model_profile: 'traced-model',
        input: { prompt: 'hi' },
        callback_url: hooks.url,
      });
    expect(created.status).to.equal(201);
    const job = await finished(api, created.body.id);
    expect(job.status).to.equal('completed');
    const [delivery] = await hooks.waitFor(1);

    const inTrace = () => otlp.spans.filter((s) => s.traceId === TRACE_ID);
    const one = (service: string, name: string) =>
      waitFor(`span ${service} ${name}`, () => inTrace().find((s) => s.service === service && s.name === name));
    const create = await one('ai-service', 'POST /api/v1/jobs');
    const claim = await one('ai-service-worker', 'claim');
    const call = await one('ai-service-worker', 'provider call');
    const complete = await one('ai-service-worker', 'complete');
    const completed = await one('ai-service', 'POST /api/v1/jobs/:id/complete');
    const webhook = await one('ai-service', 'webhook delivery');
    const lifetime = await one('ai-service', 'job');

    // The service continues the caller's span; every later step continues the service's create span.
    expect(create.parentSpanId).to.equal(CALLER_SPAN_ID);
    expect(create.attributes['http.response.status_code']).to.equal(201);
    for (const s of [claim, call, complete, webhook, lifetime]) expect(s.parentSpanId, s.name).to.equal(create.spanId);
    expect(lifetime.attributes).to.include({
      'ai_service.job.id': job.id,
      'ai_service.job.status': 'completed',
      'ai_service.job.attempts': 1,
    });
    expect(completed.parentSpanId).to.equal(complete.spanId);
    expect(call.attributes['ai_service.job.id']).to.equal(job.id);

    // The provider and the webhook receiver were sent the traceparent of the span that called them.
    const providerTp = parseTraceparent(llm.requests[0].headers.traceparent as string);
    expect(providerTp).to.include({ traceId: TRACE_ID, spanId: call.spanId });
    const hookTp = parseTraceparent(delivery.headers.traceparent as string);
    expect(hookTp).to.include({ traceId: TRACE_ID, spanId: webhook.spanId });

    // The worker's claim request is its own trace, linked to the trace of each job it took.
    const claimRequest = await waitFor('the claim request span', () =>
      otlp.spans.find((s: ReceivedSpan) => s.name === 'POST /api/v1/jobs/claim' && s.links.some((l) => l.traceId === TRACE_ID)),
    );
    expect(claimRequest.links).to.deep.include({ traceId: TRACE_ID, spanId: create.spanId });
    expect(otlp.rejected).to.deep.equal([]);
  });
});

describe('tracing: a collector that is not there', () => {
  it('runs jobs as usual, and shutdown waits for the last export only until OTEL_EXPORTER_OTLP_TIMEOUT', async () => {
    const t = await setup({
      ...EXPORT,
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
    });
    try {
      const job = (
        await t.api
          .post('/api/v1/jobs')
          .set('traceparent', CALLER)
          .send(jobBody({ model_profile: 'no-collector' }))
      ).body;
      const claim = await t.api.post('/api/v1/jobs/claim').send({ worker_id: 'w', model_profiles: ['no-collector'] });
      expect(claim.body.jobs.map((j: { id: string }) => j.id)).to.deep.equal([job.id]);
      const done = await t.api.post(`/api/v1/jobs/${job.id}/complete`).send({ lease_token: claim.body.jobs[0].lease_token, result: {} });
      expect(done.status).to.equal(200);
    } finally {
      const started = Date.now();
      await t.close();
      // The last export is retried only until OTEL_EXPORTER_OTLP_TIMEOUT.
      expect(Date.now() - started).to.be.below(5000);
    }
  });
});
