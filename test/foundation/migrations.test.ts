import { spawn } from 'node:child_process';
import { expect } from 'chai';
import pg from 'pg';
import supertest from 'supertest';
import { loadConfig } from '../../src/config.ts';
import { loadMigrations, migrate, pendingMigrations } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/http/request-log.ts';
import { bossInstalled, migrateBoss } from '../../src/pgboss/boss.ts';
import { createEmptyDatabase } from '../support/database.ts';
import { jobBody, setup, type TestService } from '../support/service.ts';
import { statusBecomes } from '../support/wait.ts';
import { cleanup, ROOT, spawnService } from '../support/processes.ts';

const config = loadConfig({}).db;

async function schemaRows(url: string) {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const versions = await pool.query('SELECT version, name FROM schema_migrations ORDER BY version');
    const boss = await pool.query('SELECT count(*)::int AS n FROM pgboss.version');
    return { versions: versions.rows, bossVersions: boss.rows[0].n as number };
  } finally {
    await pool.end();
  }
}

describe('migrations', () => {
  afterEach(cleanup);

  it('are idempotent: a second run applies nothing', async () => {
    const url = await createEmptyDatabase();
    const pool = createPool(url, config);
    try {
      const all = (await loadMigrations()).map((m) => m.name);
      expect(all.length).to.be.greaterThan(0);
      expect(await pendingMigrations(pool)).to.deep.equal(all);
      expect(await migrate(pool)).to.deep.equal(all);
      expect(await migrate(pool)).to.deep.equal([]);
      expect(await pendingMigrations(pool)).to.deep.equal([]);
      await migrateBoss(url, createLogger('silent'));
      await migrateBoss(url, createLogger('silent'));
      expect(await bossInstalled(pool)).to.equal(true);
      const rows = await schemaRows(url);
      expect(rows.versions.map((r) => r.name)).to.deep.equal(all);
      expect(rows.bossVersions).to.equal(1);
    } finally {
      await pool.end();
    }
  });

  it('serialise concurrent runners: each migration is applied exactly once', async () => {
    const url = await createEmptyDatabase();
    const pools = [createPool(url, config), createPool(url, config), createPool(url, config)];
    try {
      const results = await Promise.all(pools.map((p) => migrate(p)));
      const all = (await loadMigrations()).map((m) => m.name);
      expect(results.flat().sort()).to.deep.equal(all);
      const { rows } = await pools[0].query('SELECT name FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.name)).to.deep.equal(all);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('two service processes starting at once on an empty database both come up; the schema is created once', async () => {
    const url = await createEmptyDatabase();
    const a = spawnService({ DATABASE_URL: url });
    const b = spawnService({ DATABASE_URL: url });
    const urls = await Promise.all([a.url(), b.url()]);
    for (const u of urls) {
      const res = await supertest(u).get('/readyz');
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
    }
    const all = (await loadMigrations()).map((m) => m.name);
    const rows = await schemaRows(url);
    expect(rows.versions.map((r) => r.name)).to.deep.equal(all);
    expect(rows.bossVersions).to.equal(1);
    // Exactly one process applied the migrations; the other found nothing to do.
    const applied = [a, b].map((c) => c.lines.filter((l) => l.includes('"applied migrations"')));
    expect(applied.flat()).to.have.length(1);
    expect(JSON.parse(applied.flat()[0]).applied).to.deep.equal(all);
    a.proc.kill('SIGTERM');
    b.proc.kill('SIGTERM');
    expect(await a.exited).to.deep.equal({ code: 0, signal: null });
    expect(await b.exited).to.deep.equal({ code: 0, signal: null });
  });

  describe('with MIGRATE_ON_START=false', () => {
    let t: TestService | undefined;
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });

    it('is not ready and says why until npm run migrate has run, then turns ready without a restart', async () => {
      const url = await createEmptyDatabase();
      t = await setup({ MIGRATE_ON_START: 'false' }, url);
      const res = await t.api.get('/readyz');
      expect(res.status).to.equal(503);
      expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(res.body).to.include({ status: 503, code: 'migrations_pending' });
      expect(res.body.detail).to.match(/^migrations: pending migrations: 001_/);
      expect(res.body.detail).to.include('npm run migrate');
      const warning = t.logs.map((l) => JSON.parse(l)).find((e) => e.level === 40 && /MIGRATE_ON_START=false/.test(e.msg));
      expect(warning?.problem).to.match(/pending migrations/);
      // The API refuses work too, with the same reason, instead of failing on missing tables.
      const create = await t.api.post('/api/v1/jobs').send(jobBody());
      expect(create.status).to.equal(503);
      expect(create.body.code).to.equal('migrations_pending');
      expect(await pendingMigrations(t.service.pool)).to.have.length((await loadMigrations()).length);

      const migrateRun = spawn('npm', ['run', '-s', 'migrate'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, DATABASE_URL: url, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      migrateRun.stdout.on('data', (c) => {
        out += c;
      });
      migrateRun.stderr.on('data', (c) => {
        out += c;
      });
      const code = await new Promise((resolve) => migrateRun.on('exit', resolve));
      expect(code, out).to.equal(0);
      expect(out).to.include('migrations are current');
      expect(out).not.to.include(new URL(url).password);

      // the service re-checks the schema every second
      const api = t.api;
      const ready = await statusBecomes(() => api.get('/readyz'), 200);
      expect(ready.status, JSON.stringify(ready.body)).to.equal(200);
      expect((await t.api.post('/api/v1/jobs').send(jobBody())).status).to.equal(201);
      expect(t.logs.some((l) => l.includes('schema is current: ready'))).to.equal(true);
    });
  });
});
