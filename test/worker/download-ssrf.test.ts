// The WhisperX executor's audio download never reaches the worker's own
// network: without WORKER_DOWNLOAD_ALLOW_PRIVATE_ADDRESSES an audio_url at (or
// resolving to) a refused address fails the job as invalid_input naming the
// rule, WORKER_DOWNLOAD_ALLOWED_HOSTS limits the hosts, and redirects are not
// followed. No request reaches the file server in any of these cases.
import { expect } from 'chai';
import { type AiServiceClient, createClient } from '../../src/client/index.ts';
import { inUrl, REFUSED_ADDRESSES } from '../support/addresses.ts';
import { setup, type TestService } from '../support/service.ts';
import { finished, type StubServer, startWorker, stubServer, type WorkerProcess } from './support.ts';

let ref = 0;
const asrJob = (profile: string, audio_url: string) => ({
  owner_service: 'test',
  owner_ref: `ssrf-${++ref}`,
  task_type: 'transcribe',
  model_profile: profile,
  input: { audio_url },
});

describe('worker: audio downloads and private addresses (SSRF)', () => {
  let t: TestService;
  let api: AiServiceClient;
  let files: StubServer;
  let whisperx: StubServer;
  const workers: WorkerProcess[] = [];
  let port = '';

  before(async () => {
    t = await setup();
    api = createClient({ baseUrl: t.url });
    files = await stubServer((req, res) => {
      if (req.url === '/moved.wav') return void res.writeHead(302, { location: `${files.url}/call.wav` }).end();
      res.writeHead(200, { 'content-type': 'audio/wav' }).end('RIFF');
    });
    port = new URL(files.url).port;
    whisperx = await stubServer((_req, res) => void res.writeHead(200).end(JSON.stringify({ segments: [] })));
    const common = { AI_SERVICE_URL: t.url, WHISPERX_URL: whisperx.url, WORKER_CLAIM_WAIT: '5s' };
    // Default settings: any host, public addresses only.
    workers.push(await startWorker({ ...common, WHISPERX_PROFILES: 'asr-default', WORKER_ID: 'w-default' }));
    workers.push(
      await startWorker({
        ...common,
        WHISPERX_PROFILES: 'asr-listed',
        WORKER_ID: 'w-listed',
        WORKER_DOWNLOAD_ALLOWED_HOSTS: '127.0.0.1',
        WORKER_DOWNLOAD_ALLOW_PRIVATE_ADDRESSES: 'true',
      }),
    );
  });
  after(async () => {
    for (const w of workers) await w.stop();
    await files?.close();
    await whisperx?.close();
    await t?.close();
  });

  async function failure(profile: string, url: string) {
    const job = await api.createJob(asrJob(profile, url));
    const done = await finished(api, job.id);
    expect(done.status).to.equal('failed');
    expect(done.attempts).to.equal(1);
    return done.error;
  }

  it('fails a job whose audio_url is at a refused address, one per address class, as invalid_input naming the rule', async () => {
    for (const [address, rule] of REFUSED_ADDRESSES) {
      const url = new URL(`http://${inUrl(address)}:${port}/call.wav`);
      const shown = url.hostname.replace(/^\[(.*)\]$/, '$1');
      expect(await failure('asr-default', url.href), address).to.deep.equal({
        category: 'invalid_input',
        message: `audio_url is refused: ${shown} is a ${rule} address`,
      });
    }
    expect(files.requests).to.deep.equal([]);
  });

  it('fails a job whose audio_url host resolves to a loopback address, checked at connect time', async () => {
    expect(await failure('asr-default', `http://localhost:${port}/call.wav`)).to.deep.equal({
      category: 'invalid_input',
      message: 'audio_url is refused: localhost resolves to 127.0.0.1, a loopback address',
    });
    expect(files.requests).to.deep.equal([]);
  });

  it('fails a job whose audio_url host is not in WORKER_DOWNLOAD_ALLOWED_HOSTS', async () => {
    expect(await failure('asr-listed', `http://localhost:${port}/call.wav`)).to.deep.equal({
      category: 'invalid_input',
      message: `audio_url host localhost:${port} is not in WORKER_DOWNLOAD_ALLOWED_HOSTS`,
    });
    expect(files.requests).to.deep.equal([]);
  });

  it('does not follow a redirect: the job fails as invalid_input', async () => {
    expect(await failure('asr-listed', `${files.url}/moved.wav`)).to.deep.equal({
      category: 'invalid_input',
      message: 'audio_url answered 302: redirects are not followed',
    });
    expect(files.requests.map((r) => r.url)).to.deep.equal(['/moved.wav']);
  });
});
