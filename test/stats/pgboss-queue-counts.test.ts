// Queue depth as pg-boss's own tools read it (getQueueStats, getQueues, its dashboard)
// comes from our counters, written into pgboss.queue by the leader instead of pg-boss's
// pass over every row: the figures must be the ones pg-boss's own count gives, and the
// ones /api/v1/stats gives.
import { expect } from 'chai';
import { PgBoss, type QueueStats } from 'pg-boss';
import { writeQueueCounts } from '../../src/stats/pgboss-queue-counts.ts';
import { jobBody, useService } from '../support/service.ts';

const PROFILE = 'queue-counts';
const QUEUE = `call_analysis/${PROFILE}`;
const COUNTS = ['queuedCount', 'deferredCount', 'readyCount', 'activeCount', 'failedCount', 'totalCount'] as const;

describe("pg-boss's queue counts, from our counters", () => {
  const { t, api } = useService();
  let boss: PgBoss;
  before(async () => {
    boss = new PgBoss({ connectionString: t.databaseUrl, migrate: false, supervise: false, schedule: false });
    boss.on('error', () => {});
    await boss.start();
  });
  after(() => boss.stop({ graceful: false }));

  const create = (over: Record<string, unknown> = {}) => api.create(jobBody({ model_profile: PROFILE, ...over }));
  const pick = (s: QueueStats) => Object.fromEntries(COUNTS.map((k) => [k, s[k]]));

  it('match pg-boss’s own count of the rows and /api/v1/stats, for every state', async () => {
    const done = await create();
    const failed = await create({ max_attempts: 1 });
    const running = await create();
    const { jobs } = await api.claim({ worker_id: 'w', model_profiles: [PROFILE], limit: 3 });
    const token = (id: string) => jobs.find((j: { id: string }) => j.id === id).lease_token;
    await api.complete(done.id, { lease_token: token(done.id), result: { ok: true } });
    await api.fail(failed.id, { lease_token: token(failed.id), category: 'provider_error', message: 'x', retryable: false });
    await api.cancel((await create()).id);
    for (let i = 0; i < 3; i++) await create();
    const later = new Date(Date.now() + 3_600_000).toISOString();
    for (let i = 0; i < 2; i++) await create({ run_after: later });
    expect(jobs.map((j: { id: string }) => j.id)).to.include(running.id);

    expect(await writeQueueCounts(t.sql)).to.be.at.least(1);
    const ours = (await boss.getQueueStats(QUEUE))[0];
    expect(pick(ours)).to.deep.equal({
      queuedCount: 5,
      deferredCount: 2,
      readyCount: 3,
      activeCount: 1,
      failedCount: 1,
      totalCount: 9,
    });
    expect(Date.now() - new Date(ours.capturedOn as unknown as string).getTime()).to.be.below(60_000);
    const { rows } = await t.sql.query('SELECT ready_history FROM pgboss.queue WHERE name = $1', [QUEUE]);
    expect(rows[0].ready_history[0]).to.equal(3);

    // pg-boss's own aggregate over pgboss.job (a never-captured queue is always recounted)
    await t.sql.query('UPDATE pgboss.queue SET monitor_on = NULL WHERE name = $1', [QUEUE]);
    const theirs = (await boss.getQueueStats(QUEUE, { force: true }))[0];
    expect(pick(theirs)).to.deep.equal(pick(ours));

    const stats = await api.stats();
    const q = stats.queues.find((x: { queue: string }) => x.queue === QUEUE);
    expect([q.pending, q.delayed, q.ready, q.running, q.failed]).to.deep.equal([
      ours.queuedCount,
      ours.deferredCount,
      ours.readyCount,
      ours.activeCount,
      ours.failedCount,
    ]);
  });
});
