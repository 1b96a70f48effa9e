// The one assertion that both stores moved together: scripts/consistency.sql (what
// `npm run check:consistency` runs) finds nothing, and, where a test asks, every
// status counter equals the rows it counts. Also the CLI itself, run as ops run it.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { findViolations } from '../../scripts/check-consistency.ts';
import type { Queryable } from '../../src/db/pool.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

// Per queue and status, the `status:<s>` gauge (job_stats + not yet compacted
// deltas) against count(*) in the same snapshot; and the `delayed` gauge (listed
// as status "delayed") against the pending jobs the claim leaves out.
const COUNTER_MISMATCH = `
WITH counters AS (
  SELECT queue, CASE WHEN key = 'delayed' THEN key ELSE substr(key, 8) END AS status, sum(n) AS n
  FROM (SELECT queue, key, n FROM job_stats WHERE bucket = '-infinity'
        UNION ALL SELECT queue, key, n FROM job_stat_deltas WHERE bucket = '-infinity') x
  WHERE key LIKE 'status:%' OR key = 'delayed' GROUP BY 1, 2
),
actual AS (
  SELECT queue, status, count(*) AS n FROM jobs GROUP BY 1, 2
  UNION ALL SELECT queue, 'delayed', count(*) FROM jobs WHERE status = 'pending' AND delayed GROUP BY 1
)
SELECT queue, status, COALESCE(c.n, 0) AS counted, COALESCE(a.n, 0) AS actual
FROM counters c FULL JOIN actual a USING (queue, status)
WHERE COALESCE(c.n, 0) <> COALESCE(a.n, 0)`;

/** Fails with the list of violations unless `jobs`, pgboss.job and job_attempts agree (and, with counters, the stats). */
export async function expectConsistent(sql: Queryable, { counters = false } = {}): Promise<void> {
  const violations = await findViolations(sql);
  expect(violations.map((v) => `${v.violation} (${v.total}): ${v.job_id} ${v.detail}`)).to.deep.equal([]);
  if (counters) expect((await sql.query(COUNTER_MISMATCH)).rows).to.deep.equal([]);
}

/** Runs `npm run check:consistency`'s script against the database as ops would: its exit code and output. */
export async function runConsistencyCli(databaseUrl: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['scripts/check-consistency.ts'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
    });
    return { code: 0, out: stdout };
  } catch (err: any) {
    return { code: err.code, out: `${err.stdout}${err.stderr}` };
  }
}
