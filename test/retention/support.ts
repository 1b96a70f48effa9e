// Helpers for the retention tests: aging rows in both stores, and a consistency
// check that both stores and the counters agree.
import { expect } from 'chai';
import type pg from 'pg';
import { findViolations } from '../../scripts/check-consistency.ts';

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

// The stats counters against the rows: per queue and status, the `status:<s>` gauge
// (job_stats + not yet compacted deltas) equals count(*) in the same snapshot.
const COUNTER_MISMATCH = `
WITH counters AS (
  SELECT queue, substr(key, 8) AS status, sum(n) AS n
  FROM (SELECT queue, key, n FROM job_stats WHERE bucket = '-infinity'
        UNION ALL SELECT queue, key, n FROM job_stat_deltas WHERE bucket = '-infinity') x
  WHERE key LIKE 'status:%' GROUP BY 1, 2
),
actual AS (SELECT queue, status, count(*) AS n FROM jobs GROUP BY 1, 2)
SELECT queue, status, COALESCE(c.n, 0) AS counted, COALESCE(a.n, 0) AS actual
FROM counters c FULL JOIN actual a USING (queue, status)
WHERE COALESCE(c.n, 0) <> COALESCE(a.n, 0)`;

/**
 * Both stores and the counters agree: `npm run check:consistency`'s check
 * (scripts/consistency.sql) finds nothing, and every status counter matches its rows.
 */
export async function expectConsistent(sql: pg.Pool): Promise<void> {
  const violations = await findViolations(sql);
  expect(violations.map((v) => `${v.violation} (${v.total}): ${v.job_id} ${v.detail}`)).to.deep.equal([]);
  expect((await sql.query(COUNTER_MISMATCH)).rows).to.deep.equal([]);
}
