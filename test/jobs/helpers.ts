// Helpers shared by the job tests: reading both stores, forcing a lease to expire,
// and asserting problem+json errors.
import { expect } from 'chai';
import type pg from 'pg';
import { reapExpiredLeases } from '../../src/jobs/lease-reaper.ts';
import type { TestService } from '../support/service.ts';

export const PROFILE = 'qwen2.5-14b';

export async function jobRow(sql: pg.Pool, id: string) {
  const { rows } = await sql.query('SELECT * FROM jobs WHERE id = $1::uuid', [id]);
  return rows[0];
}

export async function bossRow(sql: pg.Pool, id: string) {
  const { rows } = await sql.query(
    `SELECT state::text, retry_count, retry_limit, start_after, expire_seconds, started_on
     FROM pgboss.job WHERE id = $1::uuid`,
    [id],
  );
  return rows[0];
}

export async function attemptRows(sql: pg.Pool, id: string) {
  const { rows } = await sql.query(
    'SELECT attempt, worker_id, lease_token, outcome, error FROM job_attempts WHERE job_id = $1::uuid ORDER BY claimed_at',
    [id],
  );
  return rows;
}

/** Moves a running job's lease end into the past (the reaper has not seen it yet). */
export async function expireLease(sql: pg.Pool, id: string): Promise<void> {
  // The job's lease and its open attempt's move together, as claim and heartbeat keep them
  // (the reaper finds expired leases through the attempt).
  const { rowCount } = await sql.query(
    `WITH j AS (UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1::uuid AND status = 'running'
                RETURNING id, lease_token, lease_expires_at)
     UPDATE job_attempts t SET lease_expires_at = j.lease_expires_at FROM j WHERE t.job_id = j.id AND t.lease_token = j.lease_token`,
    [id],
  );
  expect(rowCount, 'job was not running').to.equal(1);
}

/** Runs the lease reaper once, as the leader replica would. */
export function reap(t: TestService) {
  return reapExpiredLeases(t.service.pool);
}

/** Asserts a problem+json body with the given code. */
export function expectProblem(body: any, code: string): void {
  expect(body.code, JSON.stringify(body)).to.equal(code);
  expect(body).to.include.keys('type', 'title', 'status', 'detail');
}

/** Claim body for the default profile. */
export function claimBody(overrides: Record<string, unknown> = {}) {
  return { worker_id: 'w1', model_profiles: [PROFILE], ...overrides };
}

export const RESULT = { content: 'The caller asked about a refund.' };
