// The LLM executor end to end: service (real PostgreSQL) ← worker process →
// a stand-in vLLM server. The stub picks its behaviour from the user message,
// so one worker serves every case.
import { expect } from 'chai';
import { type AiServiceClient, createClient } from '../../src/client/index.ts';
import type { ServerResponse } from 'node:http';
import { setup, type TestService } from '../support/service.ts';
import { openStream } from '../support/sse.ts';
import { completion, finished, sendJson, type StubServer, startWorker, stubServer, waitFor, type WorkerProcess } from './support.ts';

const API_KEY = 'sk-test-secret-key';
const SLOW_MS = 4000;

const STREAMED_WORDS = ['The', 'caller', 'asks', 'for', 'a', 'refund', 'of', 'the', 'March', 'invoice.'];
const STREAM_CHUNK_GAP_MS = 200;

/** A vLLM-style streamed reply: one SSE chunk per word, then finish_reason, usage and [DONE]. */
async function streamWords(res: ServerResponse, words: string[]): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const chunk = (o: object) =>
    res.write(`data: ${JSON.stringify({ id: 'chatcmpl-s', object: 'chat.completion.chunk', model: 'qwen2.5-14b', ...o })}\n\n`);
  chunk({ choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: null }] });
  for (const [i, w] of words.entries()) {
    chunk({ choices: [{ index: 0, delta: { content: i ? ` ${w}` : w }, finish_reason: null }] });
    await new Promise((r) => setTimeout(r, STREAM_CHUNK_GAP_MS));
  }
  chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
  chunk({ choices: [], usage: { prompt_tokens: 9, completion_tokens: words.length, total_tokens: 9 + words.length } });
  res.end('data: [DONE]\n\n');
}

let ref = 0;
function llmJob(input: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { owner_service: 'test', owner_ref: `llm-${++ref}`, task_type: 'chat', model_profile: 'qwen2.5-14b', input, ...extra };
}

function lastUserText(body: any): string {
  const user = [...body.messages].reverse().find((m: any) => m.role === 'user');
  return typeof user.content === 'string' ? user.content : user.content.find((p: any) => p.type === 'text').text;
}

describe('worker: LLM executor', () => {
  let t: TestService;
  let api: AiServiceClient;
  let vllm: StubServer;
  let worker: WorkerProcess;
  const seen = new Map<string, number>();

  before(async () => {
    t = await setup();
    api = createClient({ baseUrl: t.url });
    vllm = await stubServer(async (req, res) => {
      const body = JSON.parse(req.body.toString());
      const text = lastUserText(body);
      const n = (seen.get(text) ?? 0) + 1;
      seen.set(text, n);
      if (text.startsWith('json:')) return sendJson(res, 200, completion('{"sentiment":"negative","refund":true}'));
      if (text.startsWith('rate:') && n === 1) return sendJson(res, 429, { error: { message: 'slow down' } }, { 'retry-after': '1' });
      if (text.startsWith('reject:')) return sendJson(res, 400, { error: { message: 'max_tokens is too large', prompt: text } });
      if (text.startsWith('garbage:')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('<html>');
      if (text.startsWith('stream:')) return streamWords(res, STREAMED_WORDS);
      if (text.startsWith('slow:')) await new Promise((r) => setTimeout(r, SLOW_MS));
      sendJson(res, 200, completion(`echo ${text}`));
    });
    worker = await startWorker({
      AI_SERVICE_URL: t.url,
      LLM_BASE_URL: `${vllm.url}/v1`,
      LLM_API_KEY: API_KEY,
      LLM_MODEL: 'qwen2.5-14b',
      WORKER_LEASE: '2s',
      WORKER_CLAIM_WAIT: '5s',
    });
  });
  after(async () => {
    await worker?.stop();
    await vllm?.close();
    await t?.close();
  });

  const requestsFor = (prefix: string) => vllm.requests.filter((r) => lastUserText(JSON.parse(r.body.toString())).startsWith(prefix));

  it('completes a chat job with the reply, model, finish reason, usage and latency', async () => {
    const messages = [
      { role: 'system', content: 'You are terse.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'chat: describe' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
        ],
      },
    ];
    const job = await api.createJob(llmJob({ messages, temperature: 0.2, max_tokens: 64 }));
    const done = await finished(api, job.id);
    expect(done.status).to.equal('completed');
    expect(done.result).to.deep.include({ content: 'echo chat: describe', model: 'qwen2.5-14b', finish_reason: 'stop' });
    expect(done.result!.usage).to.deep.equal({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
    expect(done.result!.latency_ms).to.be.a('number').at.least(0);
    expect(done.result).to.not.have.property('parsed');

    const [req] = requestsFor('chat:');
    expect(req.method).to.equal('POST');
    expect(req.url).to.equal('/v1/chat/completions');
    expect(req.headers.authorization).to.equal(`Bearer ${API_KEY}`);
    expect(JSON.parse(req.body.toString())).to.deep.equal({
      model: 'qwen2.5-14b',
      messages,
      temperature: 0.2,
      max_tokens: 64,
      // The reply is asked for as a stream (this stub answers plain JSON, which is read the same way).
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('streams the reply from the provider, reporting the text so far as progress, with the same final result', async () => {
    const job = await api.createJob(llmJob({ prompt: 'stream: summarise' }));
    const stream = await openStream(`${t.url}/api/v1/jobs/${job.id}/events`);
    await stream.ended;
    const partial = stream.events.filter((e) => e.event === 'progress').map((e) => e.data.output.content as string);
    const full = STREAMED_WORDS.join(' ');
    expect(partial.length, JSON.stringify(partial)).to.be.at.least(2);
    for (const p of partial) expect(full.startsWith(p), p).to.equal(true);
    expect(partial.some((p) => p.length < full.length)).to.equal(true);
    const reports = stream.events.filter((e) => e.event === 'progress').map((e) => Date.parse(e.data.updated_at));
    // At most one report per 500 ms while streaming; the last one is sent as the job completes.
    for (let i = 1; i < reports.length - 1; i++) expect(reports[i] - reports[i - 1]).to.be.at.least(450);
    const done = await api.getJob(job.id);
    expect(done.status).to.equal('completed');
    expect(done.result).to.deep.include({ content: full, model: 'qwen2.5-14b', finish_reason: 'stop' });
    expect(done.result!.usage).to.deep.equal({ prompt_tokens: 9, completion_tokens: 10, total_tokens: 19 });
    expect(JSON.parse(requestsFor('stream:')[0].body.toString())).to.include({ stream: true });
  });

  it('completes a structured-output job with the parsed JSON', async () => {
    const response_format = {
      type: 'json_schema',
      json_schema: {
        name: 'verdict',
        schema: { type: 'object', properties: { sentiment: { type: 'string' }, refund: { type: 'boolean' } } },
      },
    };
    const job = await api.createJob(
      llmJob({ system: 'Classify the call.', prompt: 'json: the call', response_format, model: 'qwen-json' }),
    );
    const done = await finished(api, job.id);
    expect(done.status).to.equal('completed');
    expect(done.result!.parsed).to.deep.equal({ sentiment: 'negative', refund: true });
    expect(done.result!.content).to.equal('{"sentiment":"negative","refund":true}');
    const sent = JSON.parse(requestsFor('json:')[0].body.toString());
    expect(sent.model).to.equal('qwen-json');
    expect(sent.response_format).to.deep.equal(response_format);
    expect(sent.messages).to.deep.equal([
      { role: 'system', content: 'Classify the call.' },
      { role: 'user', content: 'json: the call' },
    ]);
  });

  it('retries after a 429 no sooner than Retry-After, then completes', async () => {
    const job = await api.createJob(llmJob({ prompt: 'rate: limited' }));
    const done = await finished(api, job.id);
    expect(done.status).to.equal('completed');
    // a 429 is an infrastructure failure: deferred, so the completing claim is still attempt 1
    expect(done.attempts).to.equal(1);
    expect(done.deferrals).to.equal(1);
    const history = (done as any).attempts_history;
    expect(history[0].error).to.deep.include({ category: 'rate_limited' });
    expect(history.map((a: { outcome: string }) => a.outcome)).to.deep.equal(['deferred', 'completed']);
    const [first, second] = requestsFor('rate:');
    expect(second.at - first.at).to.be.at.least(950);
  });

  it('fails input that does not validate at once, without calling the provider', async () => {
    const before = vllm.requests.length;
    const none = await api.createJob(llmJob({ note: 'neither prompt nor messages' }));
    const hot = await api.createJob(llmJob({ prompt: 'hot: x', temperature: 5 }));
    const [a, b] = [await finished(api, none.id), await finished(api, hot.id)];
    for (const j of [a, b]) {
      expect(j.status).to.equal('failed');
      expect(j.attempts).to.equal(1);
      expect(j.error!.category).to.equal('invalid_input');
    }
    expect(a.error!.message).to.equal('input must have messages or prompt');
    expect(b.error!.message).to.equal('input/temperature must be <= 2');
    expect(vllm.requests.length).to.equal(before);
  });

  it('fails at once as invalid_input when the provider answers 400, without echoing the payload', async () => {
    const job = await api.createJob(llmJob({ prompt: 'reject: secret-prompt-text' }));
    const done = await finished(api, job.id);
    expect(done.status).to.equal('failed');
    expect(done.attempts).to.equal(1);
    expect(done.error).to.deep.equal({ category: 'invalid_input', message: 'llm answered 400: max_tokens is too large' });
  });

  it('fails an unparseable provider reply as provider_error', async () => {
    const job = await api.createJob(llmJob({ prompt: 'garbage: x' }, { max_attempts: 1 }));
    const done = await finished(api, job.id);
    expect(done.error).to.deep.equal({ category: 'provider_error', message: 'llm sent an unparseable reply: not JSON' });
  });

  it('keeps a slow job alive with heartbeats past its initial lease', async () => {
    const job = await api.createJob(llmJob({ prompt: 'slow: think hard' }));
    const running = await waitFor('the slow job to be claimed', async () => {
      const j = await api.getJob(job.id);
      return j.status === 'running' ? j : undefined;
    });
    const initialLeaseEnd = Date.parse(running.lease_expires_at!);
    const done = await finished(api, job.id, SLOW_MS + 5000);
    expect(done.status).to.equal('completed');
    expect(done.attempts).to.equal(1);
    expect(Date.parse(done.finished_at!)).to.be.greaterThan(initialLeaseEnd + 1000);
    expect((done as any).attempts_history.map((a: any) => a.outcome)).to.deep.equal(['completed']);
  });

  it('logs one line per job start and finish with id, queue, attempt and duration, and never the API key', async () => {
    const job = await api.createJob(llmJob({ prompt: 'chat: log me' }));
    await finished(api, job.id);
    const fin = await worker.waitForLog('job finished', (l) => l.msg === 'job finished' && l.jobId === job.id);
    expect(fin).to.include({ queue: 'chat/qwen2.5-14b', attempt: 1, outcome: 'completed' });
    expect(fin.duration_ms).to.be.a('number');
    expect(worker.logs.filter((l) => l.msg === 'job started' && l.jobId === job.id)).to.have.length(1);
    expect(JSON.stringify(worker.logs)).to.not.include(API_KEY);
  });

  it('sends the job’s traceparent to the LLM server unchanged when tracing is off', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const job = await api.createJob(llmJob({ prompt: 'trace: me' }), { traceparent });
    expect((await finished(api, job.id)).status).to.equal('completed');
    expect(requestsFor('trace:').map((r) => r.headers.traceparent)).to.deep.equal([traceparent]);
  });
});
