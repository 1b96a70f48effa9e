// The service as a real process on the embedded PostgreSQL it starts itself:
// first start, restart on the same data, and graceful shutdown on SIGTERM.
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { processAlive } from '../../src/dev/postmaster.ts';
import { jobBody } from '../support/service.ts';
import { type Child, cleanup, expectReady, postgresPid, spawnService, tempDir } from '../support/processes.ts';

function embeddedLines(child: Child) {
  return child.lines.filter((l) => l.includes('DATABASE_URL is not set')).map((l) => JSON.parse(l));
}

/** A POST whose `sent` resolves once the whole request is on the wire. */
function post(url: string, body: object) {
  const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' } });
  const sent = new Promise<void>((resolve, reject) => {
    req.on('finish', resolve);
    req.on('error', reject);
  });
  const response = new Promise<{ status: number; body: string; at: number }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, at: Date.now() }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.end(JSON.stringify(body));
  return { sent, response };
}

async function stopWithSigterm(child: Child) {
  child.proc.kill('SIGTERM');
  expect(await child.exited).to.deep.equal({ code: 0, signal: null });
}

describe('service process on embedded PostgreSQL', function () {
  // Each test starts service processes over real PostgreSQL servers: slow on a busy machine.
  this.timeout(60_000);
  afterEach(cleanup);

  it('starts one under DATA_DIR/postgres when DATABASE_URL is unset, logs its URL with the password masked, and reuses it on restart', async () => {
    const dataDir = await tempDir('embedded');
    const first = spawnService({ DATA_DIR: dataDir });
    const api = supertest(await first.url());
    await expectReady(await first.url());
    const [line, ...more] = embeddedLines(first);
    expect(more).to.deep.equal([]);
    expect(line.msg).to.equal('DATABASE_URL is not set: started embedded PostgreSQL');
    expect(line.dataDir).to.equal(path.join(dataDir, 'postgres'));
    expect(line.url).to.match(/^postgres:\/\/postgres:\*\*\*\*\*@127\.0\.0\.1:\d+\/postgres$/);
    expect(first.lines.join('\n')).not.to.include('ai-service-local');
    expect(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).to.equal(true);

    const created = await api.post('/api/v1/jobs').send(jobBody());
    expect(created.status).to.equal(201);
    await stopWithSigterm(first);
    expect(await postgresPid(path.join(dataDir, 'postgres'))).to.equal(undefined);

    const second = spawnService({ DATA_DIR: dataDir });
    const api2 = supertest(await second.url());
    const again = await api2.get(`/api/v1/jobs/${created.body.id}`);
    expect(again.status).to.equal(200);
    expect(again.body.owner_ref).to.equal(created.body.owner_ref);
    expect(embeddedLines(second).map((e) => e.msg)).to.deep.equal(['DATABASE_URL is not set: started embedded PostgreSQL']);
    await stopWithSigterm(second);
  });

  it('shuts down gracefully on SIGTERM: /readyz 503 at once, an in-flight long-poll claim gets its answer, exit 0, PostgreSQL stopped', async () => {
    const dataDir = await tempDir('shutdown');
    // SHUTDOWN_DELAY keeps the listener open briefly after SIGTERM, so the 503 is observable.
    const child = spawnService({ DATA_DIR: dataDir, SHUTDOWN_DELAY: '3s', SHUTDOWN_TIMEOUT: '20s' });
    const api = supertest(await child.url());
    await expectReady(await child.url());
    const pgDir = path.join(dataDir, 'postgres');
    const pgPid = await postgresPid(pgDir);
    expect(pgPid).to.be.a('number');

    const claim = post(`${await child.url()}/api/v1/jobs/claim`, {
      worker_id: 'gpu-shutdown',
      model_profiles: ['no-such-profile'],
      wait_seconds: 30,
    });
    await claim.sent;
    const signalledAt = Date.now();
    child.proc.kill('SIGTERM');
    await child.waitForLog((e) => e.msg === 'shutting down');

    const readyz = await api.get('/readyz');
    expect(readyz.status).to.equal(503);
    expect(readyz.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(readyz.body).to.include({ code: 'shutting_down', status: 503 });
    expect(readyz.body.detail).to.match(/^shutdown: /);

    // A 30 s long poll answered after the signal, with a complete response.
    const res = await claim.response;
    expect(res.status).to.equal(200);
    expect(JSON.parse(res.body)).to.deep.equal({ jobs: [] });
    expect(res.at).to.be.greaterThan(signalledAt);

    expect(await child.exited).to.deep.equal({ code: 0, signal: null });
    expect(child.lines.some((l) => l.includes('"msg":"stopped"'))).to.equal(true);
    expect(processAlive(pgPid!)).to.equal(false);
    expect(existsSync(path.join(pgDir, 'postmaster.pid'))).to.equal(false);
  });
});
