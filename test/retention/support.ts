// Helpers for the retention tests: aging rows in both stores, and a consistency
// check that both stores and the counters agree.
import type pg from 'pg';

/**
 * Moves every timestamp of the given jobs `days` into the past, in `jobs`,
 * job_attempts and pgboss.job alike (keep_until too: 'infinity' stays infinite,
 * any finite value moves back like the rest).
 */
export async function ageJobs(sql: pg.Pool, ids: string[], days: number): Promise<void> {
  const shift = `make_interval(days => $2::int)`;
  await sql.query(
    `UPDATE jobs SET created_at = created_at - ${shift}, updated_at = updated_at - ${shift}, run_after = run_after - ${shift},
       started_at = started_at - ${shift}, finished_at = finished_at - ${shift}, error_at = error_at - ${shift},
       lease_expires_at = lease_expires_at - ${shift}
     WHERE id = ANY($1::uuid[])`,
    [ids, days],
  );
  await sql.query(
    `UPDATE job_attempts SET claimed_at = claimed_at - ${shift}, finished_at = finished_at - ${shift}
     WHERE job_id = ANY($1::uuid[])`,
    [ids, days],
  );
  await sql.query(
    `UPDATE pgboss.job SET created_on = created_on - ${shift}, start_after = start_after - ${shift},
       started_on = started_on - ${shift}, completed_on = completed_on - ${shift}, keep_until = keep_until - ${shift}
     WHERE id = ANY($1::uuid[])`,
    [ids, days],
  );
}

// Each column counts one kind of disagreement; all zero means consistent.
const CONSISTENCY = `
WITH pair AS (
  SELECT j.id, j.status, p.state::text AS state, p.id IS NULL AS boss_missing
  FROM jobs j LEFT JOIN pgboss.job p ON p.name = j.queue AND p.id = j.id
),
counters AS (
  SELECT queue, substr(key, 8) AS status, sum(n) AS n
  FROM (SELECT queue, key, n FROM job_stats WHERE bucket = '-infinity'
        UNION ALL SELECT queue, key, n FROM job_stat_deltas WHERE bucket = '-infinity') x
  WHERE key LIKE 'status:%' GROUP BY 1, 2
),
actual AS (SELECT queue, status, count(*) AS n FROM jobs GROUP BY 1, 2)
SELECT
  (SELECT count(*) FROM pair WHERE boss_missing) AS jobs_without_boss,
  (SELECT count(*) FROM pgboss.job p WHERE p.name IN (SELECT name FROM job_queues)
     AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = p.id AND j.queue = p.name)) AS boss_without_jobs,
  (SELECT count(*) FROM pair WHERE NOT boss_missing AND state <> CASE status
     WHEN 'pending' THEN (CASE WHEN state = 'retry' THEN 'retry' ELSE 'created' END)
     WHEN 'running' THEN 'active' ELSE status END) AS state_mismatch,
  (SELECT count(*) FROM counters c FULL JOIN actual a USING (queue, status)
     WHERE COALESCE(c.n, 0) <> COALESCE(a.n, 0)) AS counter_mismatch`;

export interface Consistency {
  jobs_without_boss: number;
  boss_without_jobs: number;
  state_mismatch: number;
  counter_mismatch: number;
}

export const CONSISTENT: Consistency = { jobs_without_boss: 0, boss_without_jobs: 0, state_mismatch: 0, counter_mismatch: 0 };

export async function consistency(sql: pg.Pool): Promise<Consistency> {
  const { rows } = await sql.query(CONSISTENCY);
  return Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, Number(v)])) as unknown as Consistency;
}
