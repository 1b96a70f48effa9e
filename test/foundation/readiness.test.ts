import path from 'node:path';
import { expect } from 'chai';
import express from 'express';
import pg from 'pg';
import supertest from 'supertest';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/dev/embedded.ts';
import { errorHandler } from '../../src/http/errors.ts';
import { healthRoutes, type Readiness } from '../../src/http/health.ts';
import { createTestDatabase } from '../support/database.ts';
import { setup, type TestService } from '../support/service.ts';
import { statusBecomes } from '../support/wait.ts';
import { cleanup, tempDir } from '../support/processes.ts';

describe('readiness when the database goes away', () => {
  let db: EmbeddedDatabase;
  let t: TestService;
  before(async function () {
    this.timeout(120_000);
    // A server of our own, so stopping it does not disturb other test files.
    db = await startEmbeddedPostgres(path.join(await tempDir('readiness'), 'pg'), { fast: true });
    t = await setup({}, db.url);
  });
  after(async function () {
    this.timeout(60_000);
    await t?.close();
    await db?.stop();
    await cleanup();
  });

  it('answers /readyz 503 naming the database while PostgreSQL is stopped, and 200 again once it is back', async () => {
    const before = await t.api.get('/readyz');
    expect(before.status, JSON.stringify(before.body)).to.equal(200);
    await db.stop();

    const down = await t.api.get('/readyz');
    expect(down.status).to.equal(503);
    expect(down.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(down.headers['retry-after']).to.equal('1');
    expect(down.body).to.include({ status: 503, code: 'database_unavailable', title: 'Service Unavailable' });
    expect(down.body.detail).to.match(/^database: PostgreSQL did not answer within 1000 ms/);
    // Liveness does not depend on the database.
    expect((await t.api.get('/healthz')).status).to.equal(200);
    // API calls get a 503 the client can retry, never a 500.
    const list = await t.api.get('/api/v1/jobs');
    expect(list.status).to.equal(503);
    expect(list.body.code).to.equal('database_unavailable');

    await db.restart();
    const up = await statusBecomes(() => t.api.get('/readyz'), 200);
    expect(up.status, JSON.stringify(up.body)).to.equal(200);
    expect((await t.api.get('/api/v1/jobs')).status).to.equal(200);
  });
});

describe('readiness timeout', () => {
  let client: pg.Client;
  before(async () => {
    // A connected client writes a query to its socket at once, so the answer can
    // arrive while our event loop is blocked.
    client = new pg.Client({ connectionString: await createTestDatabase() });
    await client.connect();
  });
  after(() => client.end());

  const appWith = (pingDatabase: Readiness['pingDatabase']) => {
    const app = express();
    app.use(healthRoutes({ shuttingDown: false, schemaProblem: async () => undefined, pingDatabase }));
    app.use(errorHandler);
    return supertest(app);
  };

  it('answers 503 when PostgreSQL does not answer within 1 s', async () => {
    const started = Date.now();
    const res = await appWith(() => new Promise(() => {})).get('/readyz');
    expect(res.status).to.equal(503);
    expect(res.body.code).to.equal('database_unavailable');
    expect(Date.now() - started).to.be.at.least(1000);
  });

  it('stays ready when the answer arrived in time but our event loop was busy', async () => {
    const res = await appWith(async () => {
      const answer = client.query('SELECT 1');
      await Promise.resolve(); // the readiness timer is armed now
      // Block the event loop past the timeout, as compiling the OpenAPI spec does at start.
      const until = Date.now() + 1500;
      while (Date.now() < until);
      await answer;
    }).get('/readyz');
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
  });
});
