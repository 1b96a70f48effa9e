// Dropping queues that have held no job for QUEUE_IDLE_DROP (run by the leader after
// the purge), so job_queues, pg-boss's queue table and its per-queue maintenance do
// not grow with every model profile ever used. A queue is empty when neither store
// holds a row of it; `job_queues.empty_since` records since when, and a job in it
// clears the mark.
//
// The drop is race-free against a create on another replica whose QueueRegistry still
// knows the queue: it locks pg-boss's queue row FOR UPDATE, which a create's deferred
// foreign-key check (pgboss.job → pgboss.queue, checked at commit with FOR KEY SHARE)
// waits for; it re-checks emptiness after taking the lock (seeing every create that
// committed first), and such a create then fails on the missing queue and is retried
// by the service after recreating the queue (src/jobs/create.ts).
import type { Pool } from '../db/pool.ts';
import { withTransaction } from '../db/pool.ts';
import { PGBOSS_SCHEMA } from '../pgboss/mirror.ts';

const DROP_BATCH = 100;

// The EXISTS probes read jobs_type_profile_idx and pg-boss's (name, …) indexes: one entry each.
const MARK = `
UPDATE job_queues q SET empty_since = CASE WHEN e.empty THEN COALESCE(q.empty_since, now()) END
FROM (SELECT name, NOT EXISTS (SELECT 1 FROM jobs j WHERE j.task_type = q2.task_type AND j.model_profile = q2.model_profile)
        AND NOT EXISTS (SELECT 1 FROM ${PGBOSS_SCHEMA}.job p WHERE p.name = q2.name) AS empty
      FROM job_queues q2) e
WHERE e.name = q.name AND (q.empty_since IS NULL) = e.empty
RETURNING q.name`;

const DUE = `SELECT name FROM job_queues WHERE empty_since < now() - make_interval(secs => $1::float8 / 1000) ORDER BY name LIMIT ${DROP_BATCH}`;

const LOCK = `SELECT 1 FROM ${PGBOSS_SCHEMA}.queue WHERE name = $1::text FOR UPDATE`;

const STILL_EMPTY = `
SELECT NOT EXISTS (SELECT 1 FROM jobs j WHERE j.task_type = q.task_type AND j.model_profile = q.model_profile)
   AND NOT EXISTS (SELECT 1 FROM ${PGBOSS_SCHEMA}.job p WHERE p.name = q.name) AS empty
FROM job_queues q WHERE q.name = $1::text`;

/** Marks empty queues and drops those empty for `idleMs`; returns the names dropped. */
export async function dropIdleQueues(pool: Pool, idleMs: number): Promise<string[]> {
  await pool.query(MARK);
  const { rows } = await pool.query<{ name: string }>(DUE, [idleMs]);
  const dropped: string[] = [];
  for (const { name } of rows) {
    const done = await withTransaction(pool, async (c) => {
      await c.query(LOCK, [name]);
      const { rows: check } = await c.query(STILL_EMPTY, [name]);
      if (!check[0]?.empty) {
        await c.query('UPDATE job_queues SET empty_since = NULL WHERE name = $1::text', [name]);
        return false;
      }
      await c.query(`SELECT ${PGBOSS_SCHEMA}.delete_queue($1::text)`, [name]);
      await c.query('DELETE FROM job_queues WHERE name = $1::text', [name]);
      return true;
    });
    if (done) dropped.push(name);
  }
  return dropped;
}
