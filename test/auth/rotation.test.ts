// Token rotation without downtime: several tokens per name, and the file re-read
// on SIGHUP. Once in-process (reload() directly), once end to end: `npm start`'s
// entry point in a child process, sent a real SIGHUP.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { createTestDatabase } from '../support/database.ts';
import { cleanup, spawnService } from '../support/processes.ts';
import { setup } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';
import { as } from './fixtures.ts';

const OLD = 'old-token-0123456789abcdefgh';
const NEW = 'new-token-0123456789abcdefgh';

const tokenFile = (...tokens: string[]) => stringify({ tokens: [{ name: 'ops', role: 'admin', tokens }] });

const status = async (url: string, token: string) =>
  (await fetch(`${url}/api/v1/stats`, { headers: { authorization: `Bearer ${token}` } })).status;

describe('token rotation', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ai-service-rotation-'));
    file = path.join(dir, 'tokens.yaml');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reloads the file: old and new both work, then only new; a broken file keeps the current tokens', async () => {
    await writeFile(file, tokenFile(OLD));
    const t = await setup({ API_TOKENS_FILE: file });
    try {
      await as(t.api.get('/api/v1/stats'), OLD).expect(200);
      await as(t.api.get('/api/v1/stats'), NEW).expect(401);
      await writeFile(file, tokenFile(OLD, NEW));
      expect(t.service.auth.reload()).to.equal(true);
      await as(t.api.get('/api/v1/stats'), OLD).expect(200);
      await as(t.api.get('/api/v1/stats'), NEW).expect(200);
      await writeFile(file, tokenFile(NEW));
      expect(t.service.auth.reload()).to.equal(true);
      await as(t.api.get('/api/v1/stats'), OLD).expect(401);
      await writeFile(file, `tokens: [{ name: ops, role: admin, token: ${OLD}`);
      expect(t.service.auth.reload()).to.equal(false);
      await as(t.api.get('/api/v1/stats'), NEW).expect(200);
      const error = t.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'API tokens not reloaded; keeping the current ones');
      expect(error.problem).to.match(/is not valid JSON or YAML/);
      expect(t.logs.filter((l) => l.includes(OLD) || l.includes(NEW))).to.deep.equal([]);
    } finally {
      await t.close();
    }
  });

  it('re-reads the token file on SIGHUP in the running service', async function () {
    this.timeout(60_000);
    await writeFile(file, tokenFile(OLD));
    const child = spawnService({ NODE_ENV: 'production', DATABASE_URL: await createTestDatabase(), API_TOKENS_FILE: file });
    try {
      const url = await child.url();
      expect(await status(url, OLD)).to.equal(200);
      await writeFile(file, tokenFile(OLD, NEW));
      child.proc.kill('SIGHUP');
      await waitFor('the new token to work', async () => (await status(url, NEW)) === 200);
      expect(await status(url, OLD)).to.equal(200);
      await writeFile(file, tokenFile(NEW));
      child.proc.kill('SIGHUP');
      await waitFor('the old token to stop working', async () => (await status(url, OLD)) === 401);
      expect(await status(url, NEW)).to.equal(200);
      expect(child.proc.exitCode, 'SIGHUP must not end the process').to.equal(null);
      expect([...child.lines, child.stderr()].filter((l) => l.includes(OLD) || l.includes(NEW))).to.deep.equal([]);
    } finally {
      await cleanup();
    }
  });

  it('exits 1 in production without tokens, saying why', async function () {
    this.timeout(30_000);
    const child = spawnService({ NODE_ENV: 'production', DATABASE_URL: await createTestDatabase() });
    try {
      expect((await child.exited).code).to.equal(1);
      expect(child.lines.join('\n') + child.stderr()).to.include('no API tokens in production');
    } finally {
      await cleanup();
    }
  });
});
