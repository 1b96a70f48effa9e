// The service's own session connections (leader election, LISTEN) give up a
// connection attempt that is never answered, as happens through a pooler that has
// lost its server or to a host that vanished without a reset, and try again: once
// the database is reachable they are back, instead of waiting on that attempt forever.
import { expect } from 'chai';
import { ListenConnection } from '../../src/db/listen.ts';
import { JOBS_CHANNEL, Waiters } from '../../src/jobs/waiters.ts';
import { Leader } from '../../src/leader/leader.ts';
import { createTestDatabase } from '../support/database.ts';
import { type FollowingProxy, startFollowingProxy } from '../support/following-proxy.ts';
import { withClient } from '../support/postgres.ts';
import { captureLogger } from '../support/service.ts';
import { waitUntil } from '../support/wait.ts';

const CONNECT_TIMEOUT_MS = 300;
/** Well above one connect deadline plus the 1 s (LISTEN) or 200 ms (leader) pause before the next attempt. */
const BACK_WITHIN_MS = 5000;

describe('session connections after an unanswered connect', function () {
  this.timeout(30_000);
  let url: string;
  let proxy: FollowingProxy;
  let viaProxy: string;
  let dbPort: number;

  beforeEach(async () => {
    url ??= await createTestDatabase();
    dbPort = Number(new URL(url).port);
    proxy = await startFollowingProxy(dbPort);
    const u = new URL(url);
    u.port = String(proxy.port);
    viaProxy = u.href;
    proxy.blackhole();
  });
  afterEach(() => proxy.close());

  it('elects a leader once the database answers', async () => {
    const { logger } = captureLogger();
    const leader = new Leader(viaProxy, logger, [], { retryMs: 200, connectTimeoutMs: CONNECT_TIMEOUT_MS });
    leader.start();
    try {
      // Its first attempt is now hanging on a connection that will never answer.
      await waitUntil(async () => proxy.held >= 1, { what: 'a connection attempt held' });
      proxy.retarget(dbPort);
      const t0 = Date.now();
      await waitUntil(async () => leader.isLeader, { timeoutMs: BACK_WITHIN_MS, what: 'the leader elected' });
      expect(Date.now() - t0).to.be.below(BACK_WITHIN_MS);
    } finally {
      await leader.stop();
    }
  });

  it('listens again once the database answers', async () => {
    const { logger } = captureLogger();
    const connection = new ListenConnection({
      url: viaProxy,
      logger,
      applicationName: 'test-listen',
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    });
    const waiters = new Waiters(connection);
    const started = connection.start();
    try {
      await waitUntil(async () => proxy.held >= 1, { what: 'a connection attempt held' });
      proxy.retarget(dbPort);
      await started;
      const waiter = waiters.arm({ modelProfiles: ['m'] });
      const woken = waiter.wait(60_000, Date.now() + 60_000, new AbortController().signal);
      // Notify until it lands: the LISTEN connection is re-established in the background.
      const t0 = Date.now();
      let done = false;
      void woken.then(() => {
        done = true;
      });
      await waitUntil(
        async () => {
          await withClient(url, (c) => c.query(`SELECT pg_notify('${JOBS_CHANNEL}', 't/m')`));
          return done;
        },
        { timeoutMs: BACK_WITHIN_MS, intervalMs: 100, what: 'a notification delivered' },
      );
      expect(Date.now() - t0).to.be.below(BACK_WITHIN_MS);
    } finally {
      await connection.stop();
    }
  });
});
