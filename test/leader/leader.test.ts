// Leader election when the leader's connection goes half-open: the network path
// to PostgreSQL drops every packet without a reset, the server ends the session
// (releasing the lock) and another replica becomes leader. The old leader must
// notice on its own and step down within 30 s, with default settings.
import { expect } from 'chai';
import pg from 'pg';
import { LOCK_CHECK_INTERVAL_MS, LOCK_CHECK_TIMEOUT_MS, Leader } from '../../src/leader/leader.ts';
import { type BlackholeProxy, startBlackholeProxy } from '../support/blackhole-proxy.ts';
import { captureLogger } from '../support/service.ts';
import { createTestDatabase } from '../support/database.ts';
import { waitUntil } from '../support/wait.ts';

const STEP_DOWN_MAX_MS = 30_000;

describe('leader on a half-open connection', function () {
  this.timeout(60_000);
  let url: string;
  let proxy: BlackholeProxy;
  const leaders: Leader[] = [];
  const admin = () => new pg.Client({ connectionString: url });

  before(async () => {
    url = await createTestDatabase();
    const u = new URL(url);
    proxy = await startBlackholeProxy({ host: u.hostname, port: Number(u.port) });
  });
  after(async () => {
    for (const l of leaders) await l.stop();
    await proxy.close();
  });

  function leader(viaUrl: string, ran: number[]) {
    const { logger, lines } = captureLogger();
    const l = new Leader(viaUrl, logger, [{ name: 'count', intervalMs: 50, run: async () => ran.push(Date.now()) }], { retryMs: 200 });
    leaders.push(l);
    l.start();
    return { l, lines };
  }

  it('steps down within 30 s once its lock is gone, and runs no task after that', async () => {
    expect(LOCK_CHECK_INTERVAL_MS + LOCK_CHECK_TIMEOUT_MS).to.be.at.most(STEP_DOWN_MAX_MS);
    const viaProxy = new URL(url);
    viaProxy.port = String(proxy.port);
    const ranA: number[] = [];
    const a = leader(viaProxy.href, ranA);
    await waitUntil(async () => a.l.isLeader, { what: 'A becomes leader' });
    const ranB: number[] = [];
    const b = leader(url, ranB);

    // The path dies; then the server ends A's session (as its keepalive would), which frees the lock.
    proxy.blackhole();
    const cutAt = Date.now();
    const c = admin();
    await c.connect();
    try {
      const { rows } = await c.query(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = 4242002 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      expect(rows.map((r) => r.ok)).to.deep.equal([true]);
    } finally {
      await c.end();
    }
    await waitUntil(async () => b.l.isLeader, { what: 'B becomes leader', timeoutMs: 10_000 });

    await waitUntil(async () => !a.l.isLeader, { what: 'A steps down', timeoutMs: STEP_DOWN_MAX_MS, intervalMs: 50 });
    const steppedDownAt = Date.now();
    expect(steppedDownAt - cutAt).to.be.below(STEP_DOWN_MAX_MS);
    expect(a.lines.join('')).to.include('leadership lost: stepping down');
    const lastRunA = ranA.at(-1) ?? 0;
    await waitUntil(async () => ranB.filter((t) => t > steppedDownAt).length >= 5, { what: 'B keeps running tasks' });
    expect(ranA.at(-1)).to.equal(lastRunA);
    expect(lastRunA).to.be.at.most(steppedDownAt);
  });
});
