// job_events SQL (the log migration 007's trigger and the progress statement
// append to): the events a notification announced, and the replay a stream starts with.
import type { Queryable } from '../db/pool.ts';
import { idsOfOwnerRef } from './job-keys.ts';

export type JobEventKind = 'status' | 'progress';

export interface JobEvent {
  /** bigint, as text. */
  id: string;
  job_id: string;
  kind: JobEventKind;
  data: Record<string, unknown>;
  owner_service: string;
  owner_ref: string;
}

// A status event stores what changed (migration 017): the job's fixed fields come from its row.
const COLUMNS = `e.id::text AS id, e.job_id, e.kind,
  CASE WHEN e.kind = 'status' THEN job_fixed_json(j) || e.data ELSE e.data END AS data, j.owner_service, j.owner_ref`;

/** A stream's scope: one job, or every job of one owner_ref. */
export type StreamScope = { jobId: string } | { owner_service: string; owner_ref: string };

/** Owner scopes are matched as `service \n ref` (a ref holds no control characters). */
export const ownerKey = (service: string, ref: string) => `${service}\n${ref}`;

/** Below this many ids a range is read whole and filtered here: cheaper than sending every listened job id. */
const SMALL_RANGE = 64n;

/** Events with ids in [first, last] of the given jobs or owners, in id order. */
export async function eventsInRange(db: Queryable, first: string, last: string, jobIds: string[], owners: string[]): Promise<JobEvent[]> {
  if (BigInt(last) - BigInt(first) < SMALL_RANGE) {
    const { rows } = await db.query({
      name: 'job-events-in-small-range',
      text: `SELECT ${COLUMNS} FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE e.id BETWEEN $1::bigint AND $2::bigint ORDER BY e.id`,
      values: [first, last],
    });
    const jobs = new Set(jobIds);
    const keys = new Set(owners);
    return rows.filter((e: JobEvent) => jobs.has(e.job_id) || keys.has(ownerKey(e.owner_service, e.owner_ref)));
  }
  const { rows } = await db.query({
    name: 'job-events-in-range',
    text: `SELECT ${COLUMNS} FROM job_events e JOIN jobs j ON j.id = e.job_id
           WHERE e.id BETWEEN $1::bigint AND $2::bigint
             AND (e.job_id = ANY ($3::uuid[]) OR j.owner_service || E'\\n' || j.owner_ref = ANY ($4::text[]))
           ORDER BY e.id`,
    values: [first, last, jobIds, owners],
  });
  return rows;
}

function scopeWhere(scope: StreamScope): { where: string; values: unknown[] } {
  return 'jobId' in scope
    ? { where: 'j.id = $1::uuid', values: [scope.jobId] }
    : { where: `j.owner_service = $1::text AND j.id = ANY(${idsOfOwnerRef('$2')})`, values: [scope.owner_service, scope.owner_ref] };
}

/**
 * What a stream starts with: every event after `afterId` (a resume), or without one
 * each job's latest status and latest progress, in id order.
 */
export async function replayEvents(db: Queryable, scope: StreamScope, afterId: string | undefined): Promise<JobEvent[]> {
  const { where, values } = scopeWhere(scope);
  const n = values.length;
  const text =
    afterId === undefined
      ? `SELECT * FROM (SELECT DISTINCT ON (e.job_id, e.kind) ${COLUMNS}, e.id AS seq
           FROM jobs j JOIN job_events e ON e.job_id = j.id WHERE ${where}
           ORDER BY e.job_id, e.kind, e.id DESC) latest ORDER BY seq`
      : `SELECT ${COLUMNS} FROM jobs j JOIN job_events e ON e.job_id = j.id
           WHERE ${where} AND e.id > $${n + 1}::bigint ORDER BY e.id`;
  const { rows } = await db.query(text, afterId === undefined ? values : [...values, afterId]);
  return rows.map(({ seq: _seq, ...e }: JobEvent & { seq?: unknown }) => e);
}
