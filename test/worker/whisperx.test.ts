// The WhisperX executor end to end: the worker downloads audio from a file
// server and posts it to a stand-in whisper-asr-webservice, which answers JSON
// as text/plain like the real one.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { type AiServiceClient, createClient } from '../../src/client/index.ts';
import { openStream } from '../support/sse.ts';
import { setup, type TestService } from '../support/service.ts';
import { finished, type Recorded, type StubServer, startWorker, stubServer, type WorkerProcess } from './support.ts';

const AUDIO = randomBytes(40 * 1024);
const BIG_AUDIO = randomBytes(80 * 1024);
const AUDIO_LIMIT = '64kb';

const WHISPERX_REPLY = {
  segments: [
    {
      start: 0.03,
      end: 2.5,
      text: " Hello, I'd like a refund.",
      speaker: 'SPEAKER_00',
      words: [
        { word: 'Hello,', start: 0.03, end: 0.5, score: 0.91, speaker: 'SPEAKER_00' },
        { word: 'refund.', start: 2.0, end: 2.5, score: 0.88, speaker: 'SPEAKER_00' },
      ],
    },
    {
      start: 2.6,
      end: 4.25,
      text: ' Sure.',
      speaker: 'SPEAKER_01',
      words: [{ word: 'Sure.', start: 2.6, end: 4.25, score: 0.95, speaker: 'SPEAKER_01' }],
    },
  ],
  word_segments: [],
  language: 'en',
};

/** The multipart upload the worker sent, parsed the way a web server would. */
async function uploaded(req: Recorded): Promise<File> {
  const form = await new Response(new Uint8Array(req.body), {
    headers: { 'content-type': String(req.headers['content-type']) },
  }).formData();
  return form.get('audio_file') as File;
}

let ref = 0;
const asrJob = (input: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  owner_service: 'test',
  owner_ref: `asr-${++ref}`,
  task_type: 'transcribe',
  model_profile: 'whisperx',
  input,
  ...extra,
});

describe('worker: WhisperX executor', () => {
  let t: TestService;
  let api: AiServiceClient;
  let files: StubServer;
  let whisperx: StubServer;
  let worker: WorkerProcess;
  let whisperxStatus = 200;

  before(async () => {
    t = await setup();
    api = createClient({ baseUrl: t.url });
    files = await stubServer((req, res) => {
      if (req.url === '/calls/call-1.wav') return void res.writeHead(200, { 'content-type': 'audio/wav' }).end(AUDIO);
      if (req.url === '/calls/big.wav') return void res.writeHead(200, { 'content-type': 'audio/wav' }).end(BIG_AUDIO);
      if (req.url === '/calls/big-chunked.wav') {
        res.writeHead(200, { 'content-type': 'audio/wav' });
        res.write(BIG_AUDIO.subarray(0, 40 * 1024));
        return void res.end(BIG_AUDIO.subarray(40 * 1024));
      }
      res.writeHead(404).end();
    });
    whisperx = await stubServer((_req, res) => {
      if (whisperxStatus !== 200) return void res.writeHead(whisperxStatus).end();
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(JSON.stringify(WHISPERX_REPLY));
    });
    worker = await startWorker({
      AI_SERVICE_URL: t.url,
      WHISPERX_URL: whisperx.url,
      WHISPERX_MAX_AUDIO_BYTES: AUDIO_LIMIT,
      WORKER_CLAIM_WAIT: '5s',
      // The file server runs on 127.0.0.1, a loopback address.
      WORKER_DOWNLOAD_ALLOW_PRIVATE_ADDRESSES: 'true',
    });
  });
  after(async () => {
    await worker?.stop();
    await files?.close();
    await whisperx?.close();
    await t?.close();
  });

  it('transcribes an audio file served over HTTP, with speakers and words', async () => {
    const input = {
      audio_url: `${files.url}/calls/call-1.wav`,
      language: 'en',
      diarize: true,
      min_speakers: 1,
      max_speakers: 2,
      initial_prompt: 'Refunds.',
    };
    const job = await api.createJob(asrJob(input));
    const done = await finished(api, job.id);
    expect(done.status, JSON.stringify(done.error)).to.equal('completed');
    const { latency_ms, ...result } = done.result as Record<string, unknown>;
    expect(latency_ms).to.be.a('number');
    expect(result).to.deep.equal({
      text: "Hello, I'd like a refund. Sure.",
      language: 'en',
      duration_seconds: 4.25,
      segments: [
        { start: 0.03, end: 2.5, text: "Hello, I'd like a refund.", speaker: 'SPEAKER_00', words: WHISPERX_REPLY.segments[0].words },
        { start: 2.6, end: 4.25, text: 'Sure.', speaker: 'SPEAKER_01', words: WHISPERX_REPLY.segments[1].words },
      ],
    });

    const [req] = whisperx.requests;
    const url = new URL(req.url, whisperx.url);
    expect(req.method).to.equal('POST');
    expect(url.pathname).to.equal('/asr');
    expect(Object.fromEntries(url.searchParams)).to.deep.include({
      output: 'json',
      language: 'en',
      diarize: 'true',
      min_speakers: '1',
      max_speakers: '2',
      initial_prompt: 'Refunds.',
    });
    const file = await uploaded(req);
    expect(file.name).to.equal('call-1.wav');
    expect(Buffer.from(await file.arrayBuffer()).equals(AUDIO)).to.equal(true);
  });

  it('reports its stages as progress, ending with done', async () => {
    const job = await api.createJob(asrJob({ audio_url: `${files.url}/calls/call-1.wav` }));
    const stream = await openStream(`${t.url}/api/v1/jobs/${job.id}/events`);
    await stream.ended;
    // The stream may open after the first stage: it starts with the latest progress.
    const stages = stream.events.filter((e) => e.event === 'progress').map((e) => e.data.message);
    const order = ['downloading', 'transcribing', 'done'];
    expect(stages.map((m) => order.indexOf(m))).to.deep.equal([...stages.map((m) => order.indexOf(m))].sort());
    expect(
      stages.every((m) => order.includes(m)),
      JSON.stringify(stages),
    ).to.equal(true);
    expect(stages.at(-1)).to.equal('done');
    expect(stream.events.at(-1)).to.deep.include({ event: 'status' });
    expect(stream.events.at(-1)!.data.status).to.equal('completed');
    expect((await api.getJob(job.id)).progress).to.include({ fraction: 1, message: 'done' });
  });

  it(`fails at once as invalid_input when the audio is over the ${AUDIO_LIMIT} limit, with or without Content-Length`, async () => {
    const before = whisperx.requests.length;
    for (const name of ['big.wav', 'big-chunked.wav']) {
      const job = await api.createJob(asrJob({ audio_url: `${files.url}/calls/${name}` }));
      const done = await finished(api, job.id);
      expect(done.status).to.equal('failed');
      expect(done.attempts).to.equal(1);
      expect(done.error).to.deep.equal({ category: 'invalid_input', message: 'audio is larger than the limit of 65536 bytes' });
    }
    expect(whisperx.requests.length).to.equal(before);
  });

  it('fails at once as invalid_input when the audio URL answers 404 or is not http(s)', async () => {
    const missing = await api.createJob(asrJob({ audio_url: `${files.url}/calls/missing.wav` }));
    const ftp = await api.createJob(asrJob({ audio_url: 'ftp://files.example/call.wav' }));
    const [a, b] = [await finished(api, missing.id), await finished(api, ftp.id)];
    expect(a.error).to.deep.equal({ category: 'invalid_input', message: 'audio_url answered 404' });
    expect(b.error!.category).to.equal('invalid_input');
    expect(b.error!.message).to.match(/^input\/audio_url must match pattern/);
    expect([a.attempts, b.attempts]).to.deep.equal([1, 1]);
  });

  it('reports a 503 from whisper-asr-webservice as provider_unavailable', async () => {
    whisperxStatus = 503;
    try {
      // max_deferrals 0: the provider_unavailable failure counts, so the job ends failed at once
      const job = await api.createJob(asrJob({ audio_url: `${files.url}/calls/call-1.wav` }, { max_attempts: 1, max_deferrals: 0 }));
      const done = await finished(api, job.id);
      expect(done.error).to.deep.equal({ category: 'provider_unavailable', message: 'whisperx answered 503' });
    } finally {
      whisperxStatus = 200;
    }
  });

  it('sends the job’s traceparent to whisper-asr-webservice unchanged when tracing is off', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const sent = whisperx.requests.length;
    const job = await api.createJob(asrJob({ audio_url: `${files.url}/calls/call-1.wav` }), { traceparent });
    expect((await finished(api, job.id)).status).to.equal('completed');
    expect(whisperx.requests.slice(sent).map((r) => r.headers.traceparent)).to.deep.equal([traceparent]);
  });
});
