// Token rotation without downtime: several tokens per name, and the file re-read
// on SIGHUP. Once in-process (reload() directly), once end to end: `npm start`'s
// entry point in a child process, sent a real SIGHUP.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { createTestDatabase } from '../support/database.ts';
import { setup } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';
import { as } from './fixtures.ts';

const OLD = 'old-token-0123456789abcdefgh';
const NEW = 'new-token-0123456789abcdefgh';
const MAIN = path.join(import.meta.dirname, '..', '..', 'src', 'main.ts');

const tokenFile = (...tokens: string[]) => stringify({ tokens: [{ name: 'ops', role: 'admin', tokens }] });

interface Child {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

function start(env: Record<string, string>): Child {
  const proc = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean));
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, lines, exited };
}

/** SIGTERM, and SIGKILL if it has not exited 10 s later. */
async function stop(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
  await c.exited;
  clearTimeout(timer);
}

const logged = (c: Child, msg: string) => c.lines.some((l) => l.includes(`"msg":"${msg}"`));
const listeningUrl = (c: Child) => JSON.parse(c.lines.find((l) => l.includes('"msg":"ai-service listening"'))!).url as string;
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
    const child = start({ NODE_ENV: 'production', DATABASE_URL: await createTestDatabase(), API_TOKENS_FILE: file });
    try {
      await waitFor('the service to listen', () => logged(child, 'ai-service listening'), 30_000);
      const url = listeningUrl(child);
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
      expect(child.lines.filter((l) => l.includes(OLD) || l.includes(NEW))).to.deep.equal([]);
    } finally {
      await stop(child);
    }
  });

  it('exits 1 in production without tokens, saying why', async function () {
    this.timeout(30_000);
    const child = start({ NODE_ENV: 'production', DATABASE_URL: await createTestDatabase() });
    try {
      expect(await child.exited).to.equal(1);
      expect(child.lines.join('\n')).to.include('no API tokens in production');
    } finally {
      await stop(child);
    }
  });
});
