// The typed client: its generated types are current with openapi.yaml (this
// test fails when someone edits the spec and forgets `npm run generate:client`),
// and it reports the service's problems as ApiError.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { ApiError, createClient } from '../../src/client/index.ts';
import { setup, type TestService } from '../support/service.ts';
import { sendJson, stubServer } from './support.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const GENERATED = 'src/clients/typescript/src/api-types.ts';

describe('typed API client', () => {
  it(`${GENERATED} is what npm run generate:client makes from openapi.yaml`, async function () {
    this.timeout(60_000);
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
    // Run the script's own command line, minus its output file, so flags cannot drift.
    const [bin, ...args] = (pkg.scripts['generate:client'] as string).split(/\s+/);
    expect(bin).to.equal('openapi-typescript');
    const out = args.indexOf('-o');
    expect(args[out + 1]).to.equal(GENERATED);
    args.splice(out, 2);
    const cli = path.join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');
    const { stdout } = await promisify(execFile)(process.execPath, [cli, ...args], { cwd: ROOT, maxBuffer: 32 * 1024 * 1024 });
    const committed = await readFile(path.join(ROOT, GENERATED), 'utf8');
    expect(stdout === committed, `${GENERATED} is stale: run npm run generate:client`).to.equal(true);
  });

  describe('against the service', () => {
    let t: TestService;
    before(async () => {
      t = await setup();
    });
    after(() => t?.close());

    it('throws ApiError with the status and problem code', async () => {
      const api = createClient({ baseUrl: t.url });
      const err = await api.getJob('01936f5e-8a4b-7c2d-9e1f-0a1b2c3d4e5f').catch((e) => e);
      expect(err).to.be.instanceOf(ApiError);
      expect([err.status, err.code]).to.deep.equal([404, 'not_found']);
      const bad = await api.claimJobs({ worker_id: '' }).catch((e) => e);
      expect([bad.status, bad.code]).to.deep.equal([400, 'validation_failed']);
    });

    it('creates, claims, heartbeats and completes a job with typed calls', async () => {
      const api = createClient({ baseUrl: t.url });
      const job = await api.createJob({
        owner_service: 'sdk',
        owner_ref: 'r1',
        task_type: 'chat',
        model_profile: 'sdk-model',
        input: { prompt: 'hi' },
      });
      const { jobs } = await api.claimJobs({ worker_id: 'sdk-worker', model_profiles: ['sdk-model'], wait_seconds: 1 });
      expect(jobs[0].id).to.equal(job.id);
      const hb = await api.heartbeatJob(job.id, { lease_token: jobs[0].lease_token, lease_seconds: 60 });
      expect(Date.parse(hb.lease_expires_at)).to.be.greaterThan(Date.now() + 50_000);
      const done = await api.completeJob(job.id, { lease_token: jobs[0].lease_token, result: { content: 'hello' } });
      expect([done.status, done.result]).to.deep.equal(['completed', { content: 'hello' }]);
      const page = await api.listJobs({ owner_service: 'sdk', status: 'completed' });
      expect(page.jobs.map((j) => j.id)).to.deep.equal([job.id]);
    });
  });

  it('sends the bearer token when given one', async () => {
    const stub = await stubServer((_req, res) => sendJson(res, 200, { status: 'ok' }));
    try {
      await createClient({ baseUrl: stub.url, token: 'worker-token' }).getHealth();
      await createClient({ baseUrl: stub.url }).getHealth();
      expect(stub.requests.map((r) => r.headers.authorization)).to.deep.equal(['Bearer worker-token', undefined]);
    } finally {
      await stub.close();
    }
  });
});
