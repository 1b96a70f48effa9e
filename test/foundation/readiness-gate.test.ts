import net from 'node:net';
import { expect } from 'chai';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool, type Pool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/http/request-log.ts';
import { migrateBoss } from '../../src/pgboss/boss.ts';
import { openReadinessGate, type ReadinessGate, stopBoss } from '../../src/readiness.ts';
import { startService } from '../../src/server.ts';
import { createEmptyDatabase } from '../support/database.ts';
import { captureLogger } from '../support/service.ts';
import { waitUntil } from '../support/wait.ts';

/** Connections our processes hold on the database named in url (ours are named ai-service*). */
async function ourConnections(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url, application_name: 'readiness-gate-test' });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT application_name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'ai-service%'`,
    );
    return rows.map((r) => r.application_name);
  } finally {
    await c.end();
  }
}

describe('readiness gate', () => {
  let url: string;
  let pool: Pool;
  let gate: ReadinessGate | undefined;
  const logger = createLogger('silent');
  const waitingGate = () =>
    openReadinessGate({ url, pool, runMigrations: () => migrate(pool), logger, migrateOnStart: false, prepare: async () => {} }).then(
      (g) => {
        gate = g;
        return g;
      },
    );

  beforeEach(async () => {
    url = await createEmptyDatabase();
    pool = createPool(url, loadConfig({}).db);
  });
  afterEach(async () => {
    await gate?.cancel();
    if (gate?.boss) await stopBoss(gate.boss);
    gate = undefined;
    await pool.end();
  });

  it('waits while the schema is not current, saying why, and opens with a running pg-boss once it is', async () => {
    const g = await waitingGate();
    expect(g.state).to.equal('waiting');
    expect(g.boss).to.equal(undefined);
    expect(await g.problem()).to.match(/^pending migrations: 001_/);

    await migrate(pool);
    expect(await g.problem()).to.equal('pg-boss schema is not installed; run npm run migrate');
    await migrateBoss(url, logger);

    const boss = await g.ready;
    expect(g.state).to.equal('ready');
    expect(g.boss).to.equal(boss);
    expect(await g.problem()).to.equal(undefined);
    expect(await boss.getQueues()).to.be.an('array');
  });

  it('once cancelled, rejects its promise and stops polling: a schema made current later starts nothing', async () => {
    let prepared = 0;
    const pollMs = 10;
    const g = await openReadinessGate({
      url,
      pool,
      runMigrations: () => migrate(pool),
      logger,
      migrateOnStart: false,
      pollMs,
      prepare: async () => void prepared++,
    });
    gate = g;
    await g.cancel();
    expect(g.state).to.equal('cancelled');
    const err = await g.ready.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.equal('the service shut down before it was ready');

    await migrate(pool);
    await migrateBoss(url, logger);
    // Nothing announces that a poll did not happen: give a running poll ten periods,
    // then let cancel() await any attempt it began (that attempt would have prepared).
    await new Promise((r) => setTimeout(r, pollMs * 10));
    await g.cancel();
    expect(prepared).to.equal(0);
    expect(g.boss).to.equal(undefined);
    expect(await ourConnections(url)).to.deep.equal(['ai-service']);
  });

  it('fails the start when migrating fails, with MIGRATE_ON_START', async () => {
    await pool.query('CREATE TABLE jobs (id int)'); // the first migration cannot create it now
    const err = await openReadinessGate({
      url,
      pool,
      runMigrations: () => migrate(pool),
      logger,
      migrateOnStart: true,
      prepare: async () => {},
    }).catch((e) => e);
    expect(err).to.be.instanceOf(Error);
    expect(err.message).to.match(/jobs/);
  });
});

describe('a start that fails after the gate opened', () => {
  let blocker: net.Server;
  before(async () => {
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it('leaves no connection behind when the HTTP port is taken', async () => {
    const url = await createEmptyDatabase();
    const port = (blocker.address() as net.AddressInfo).port;
    const config = loadConfig({ DATABASE_URL: url, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port) });
    const err = await startService(config, captureLogger().logger).catch((e) => e);
    expect(err?.code).to.equal('EADDRINUSE');
    // Backends end a moment after their client disconnected.
    let left: string[] = [];
    await waitUntil(
      async () => {
        left = await ourConnections(url);
        return left.length === 0;
      },
      { what: 'the service connections to close' },
    ).catch((e: Error) => expect.fail(`${e.message}; still open: ${left.join(', ')}`));
  });
});
