// `npm run check:consistency`: runs scripts/consistency.sql against DATABASE_URL,
// prints each violation (at most SAMPLE_PER_VIOLATION of each kind, with the total)
// and exits 1 if there is any, 0 if the stores agree. Tests import findViolations.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { createPool, maskDatabaseUrl, type Queryable } from '../src/db/pool.ts';

export const CONSISTENCY_SQL_PATH = path.join(import.meta.dirname, 'consistency.sql');
const SAMPLE_PER_VIOLATION = 20;

export interface Violation {
  violation: string;
  job_id: string;
  queue: string;
  detail: string;
  /** How many violations of this kind exist (the rows returned are a sample). */
  total: number;
}

// The file stays runnable with psql as is; here it is wrapped to sample each kind.
const CHECK = readFileSync(CONSISTENCY_SQL_PATH, 'utf8').trim().replace(/;$/, '');
const SAMPLED = `
SELECT violation, job_id, queue, detail, total FROM (
  SELECT v.*, count(*) OVER w AS total, row_number() OVER (w ORDER BY v.job_id) AS n
  FROM (${CHECK}
  ) v
  WINDOW w AS (PARTITION BY v.violation)
) s
WHERE n <= $1::int
ORDER BY violation, job_id`;

/** Every kind of violation found, up to `sample` rows of each. */
export async function findViolations(db: Queryable, sample = SAMPLE_PER_VIOLATION): Promise<Violation[]> {
  const { rows } = await db.query(SAMPLED, [sample]);
  return rows;
}

function report(violations: Violation[]): string {
  if (!violations.length) return 'consistent: jobs, pgboss.job and job_attempts agree';
  const lines: string[] = [];
  let kind = '';
  for (const v of violations) {
    if (v.violation !== kind) {
      kind = v.violation;
      lines.push(`${kind}: ${v.total}`);
    }
    lines.push(`  ${v.job_id} ${v.queue}: ${v.detail}`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const config = loadConfig(process.env);
  if (!config.db.url) {
    console.error('DATABASE_URL is required');
    return 2;
  }
  const pool = createPool(config.db.url, { ...config.db, statementTimeoutMs: 0 }, 'ai-service-consistency');
  try {
    const violations = await findViolations(pool);
    console.log(`${maskDatabaseUrl(config.db.url)}\n${report(violations)}`);
    return violations.length ? 1 : 0;
  } finally {
    await pool.end();
  }
}

if (import.meta.main) process.exitCode = await main();
