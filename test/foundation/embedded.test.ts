// The embedded PostgreSQL manager: stale postmaster.pid files, a server left
// running by a killed process, sharing with a live owner, and the user the server
// runs as (the `postgres` user under root, the caller otherwise).
import { spawn } from 'node:child_process';
import { chown, readFile, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import supertest from 'supertest';
import { startEmbeddedPostgres } from '../../src/dev/embedded.ts';
import { postgresUserIds, processAlive, readLock } from '../../src/dev/postmaster.ts';
import { jobBody } from '../support/service.ts';
import { cleanup, expectReady, postgresPid, spawnService, tempDir } from '../support/processes.ts';

async function query(url: string, sql: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

/** The uid a process runs as, from /proc (Linux). */
async function uidOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

/** A pid that certainly belongs to no process any more. */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => p.on('exit', r));
  return p.pid!;
}

/** Writes a postmaster.pid naming pid, in PostgreSQL's own format, as a crash would leave it. */
async function fakeLock(dataDir: string, pid: number) {
  const lines = [pid, dataDir, Math.floor(Date.now() / 1000), 54321, '', '127.0.0.1', '  1234567    98304', 'ready'];
  await writeFile(path.join(dataDir, 'postmaster.pid'), `${lines.join('\n')}\n`);
}

describe('embedded PostgreSQL', function () {
  // Each test starts real PostgreSQL servers (initdb, start, stop): slow on a busy machine.
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = path.join(await tempDir('stale'), 'pg');
  });
  after(cleanup);

  it('starts over a stale postmaster.pid whose process is dead', async () => {
    const first = await startEmbeddedPostgres(dir, { fast: true });
    await query(first.url, "CREATE TABLE survives (v text); INSERT INTO survives VALUES ('kept')");
    await first.stop();
    await fakeLock(dir, await deadPid());
    const db = await startEmbeddedPostgres(dir, { fast: true });
    try {
      expect(db.origin).to.equal('started');
      expect(await query(db.url, 'SELECT v FROM survives')).to.deep.equal([{ v: 'kept' }]);
    } finally {
      await db.stop();
    }
  });

  it('starts over a postmaster.pid whose pid now belongs to another (live, non-postgres) process', async () => {
    await fakeLock(dir, process.pid);
    const db = await startEmbeddedPostgres(dir, { fast: true });
    try {
      expect(db.origin).to.equal('started');
      expect((await readLock(dir))?.pid).not.to.equal(process.pid);
      expect(await query(db.url, 'SELECT 1 AS ok')).to.deep.equal([{ ok: 1 }]);
    } finally {
      await db.stop();
    }
  });

  it('shares a server another live process owns, and leaves it running on stop', async () => {
    const owner = await startEmbeddedPostgres(dir, { fast: true });
    try {
      const guest = await startEmbeddedPostgres(dir, { fast: true });
      expect(guest.origin).to.equal('shared');
      expect(guest.url).to.equal(owner.url);
      await guest.stop();
      expect(await query(owner.url, 'SELECT 1 AS ok')).to.deep.equal([{ ok: 1 }]);
    } finally {
      await owner.stop();
    }
    expect(await postgresPid(dir)).to.equal(undefined);
  });

  it('adopts the server of a killed service process: same port, same data, stopped on the next shutdown', async () => {
    const dataDir = await tempDir('killed');
    const pgDir = path.join(dataDir, 'postgres');
    const first = spawnService({ DATA_DIR: dataDir });
    const api = supertest(await first.url());
    const job = await api.post('/api/v1/jobs').send(jobBody());
    expect(job.status).to.equal(201);
    const pgPid = await postgresPid(pgDir);
    first.proc.kill('SIGKILL');
    await first.exited;
    // The server outlives its owner (it runs in its own process group).
    expect(processAlive(pgPid!)).to.equal(true);

    const second = spawnService({ DATA_DIR: dataDir });
    const api2 = supertest(await second.url());
    const line = await second.waitForLog((e) => /DATABASE_URL is not set/.test(e.msg ?? ''));
    expect(line.msg).to.equal('DATABASE_URL is not set: reusing embedded PostgreSQL left running by a previous process');
    expect(await postgresPid(pgDir)).to.equal(pgPid);
    expect((await api2.get(`/api/v1/jobs/${job.body.id}`)).status).to.equal(200);
    second.proc.kill('SIGTERM');
    expect(await second.exited).to.deep.equal({ code: 0, signal: null });
    expect(processAlive(pgPid!)).to.equal(false);
  });

  it('runs the server as the postgres user under root, and as the caller otherwise', async () => {
    const db = await startEmbeddedPostgres(dir, { fast: true });
    try {
      const pid = (await readLock(dir))!.pid;
      const expected = userInfo().uid === 0 ? (await postgresUserIds()).uid : userInfo().uid;
      expect(await uidOf(pid)).to.equal(expected);
      expect((await stat(dir)).uid).to.equal(expected);
    } finally {
      await db.stop();
    }
  });

  it('works for a normal (non-root) user from a fresh data directory', async () => {
    const dataDir = await tempDir('user');
    // Under root, run the service as `nobody`; otherwise we already are a normal user.
    const ids = userInfo().uid === 0 ? { uid: 65534, gid: 65534 } : {};
    if (ids.uid !== undefined) await chown(dataDir, ids.uid, ids.gid);
    const child = spawnService({ DATA_DIR: dataDir }, ids);
    await expectReady(await child.url());
    const pgDir = path.join(dataDir, 'postgres');
    const user = ids.uid ?? userInfo().uid;
    expect(await uidOf((await postgresPid(pgDir))!)).to.equal(user);
    expect((await stat(pgDir)).uid).to.equal(user);
    child.proc.kill('SIGTERM');
    expect(await child.exited).to.deep.equal({ code: 0, signal: null });
    expect(await postgresPid(pgDir)).to.equal(undefined);
  });
});
