// Helpers for the retention tests: aging rows in both stores.
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
    `UPDATE job_attempts SET claimed_at = claimed_at - ${shift}, finished_at = finished_at - ${shift},
       lease_expires_at = lease_expires_at - ${shift}
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
