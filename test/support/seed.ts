// Bulk seeding with generate_series, for backlogs of a size the API would take
// minutes to produce (the benchmark, the retention tests): one statement per chunk
// writes the `jobs` rows and, through the same fragments as the job factory, their
// attempt records and pg-boss rows. The `jobs` triggers count the rows as they go in.
// The queues must already exist (created through the service).
//
// Ids are UUIDv7 from PostgreSQL 18's uuidv7(shift), shifted to each row's
// created_at, so id order is creation order as it is for real jobs. A finished job
// was claimed one second before it finished, on its first attempt.
import type { Queryable } from '../../src/db/pool.ts';
import { insertAttemptRows, insertBossRows } from './job-rows.ts';

const CHUNK_ROWS = 100_000;

/** Share of each status in 100; the rest of 100 is 'completed'. */
export interface StatusMix {
  pending?: number;
  /** Claimed once by `seed-worker`, holding a lease that ends a day from now. */
  running?: number;
  failed?: number;
  cancelled?: number;
}

export type SeedStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface SeedOptions {
  queues: { task_type: string; model_profile: string }[];
  count: number;
  /** One status for every row, or a mix (picked by a hash of the row number). */
  status: SeedStatus | StatusMix;
  /** How long ago the newest row finished (pending: was created). */
  ageSeconds?: number;
  /** Time between consecutive rows, older rows first. */
  spacingMs?: number;
  /** Priorities 0 … priorities - 1, cycling with the row number. */
  priorities?: number;
  /** Share in 100 of pending rows that are deferred: run_after an hour ahead. */
  deferred?: number;
  owner_service?: string;
  /** Owners picked by a hash of the row number (instead of the one owner_service). */
  owner_services?: string[];
  /** Error categories of failed rows, cycling with the row number (default provider_error). */
  error_categories?: string[];
  input?: Record<string, unknown>;
  /**
   * Also the status events of the statuses each job went through before its last one
   * (pending; running if it ran), as the API writes them. The jobs insert trigger writes
   * only the last; a purge deletes them all. Slower: a job snapshot per row.
   */
  earlierEvents?: boolean;
}

const RESULT = { content: 'The caller asked about a refund.', tokens: 42 };
const ERROR_CATEGORIES = ['provider_error'];
/** A seeded lease ends this far ahead, so no reaper acts on seeded running jobs during a long seed. */
const SEED_LEASE_SECONDS = 86_400;

// $1 task types, $2 model profiles (parallel arrays, rows round-robin over them),
// $3 first row, $4 last row, $5 total rows, $6 spacing ms, $7 age s, $8..$10 mix
// (pending, failed, cancelled), $11 owner services, $12 input, $13 result, $14 error
// categories, $15 priorities, $16 deferred share, $17 running share, $18 earlier events.
// Mix buckets in order: pending, running, failed, cancelled, completed.
const SEED = `
WITH src AS (
  SELECT g, ($1::text[])[1 + g % cardinality($1::text[])] AS task_type,
         ($2::text[])[1 + g % cardinality($2::text[])] AS model_profile,
         now() - make_interval(secs => $7::float8 + ($5::int - g) * $6::float8 / 1000) AS at,
         ((hashint4(g)::bigint % 100) + 100) % 100 AS bucket,
         ((hashint4(-g)::bigint % 100) + 100) % 100 < $16::int AS deferred
  FROM generate_series($3::int, $4::int) g
),
picked AS (
  SELECT *, CASE WHEN bucket < $8::int THEN 'pending'
                 WHEN bucket < $8::int + $17::int THEN 'running'
                 WHEN bucket < $8::int + $17::int + $9::int THEN 'failed'
                 WHEN bucket < $8::int + $17::int + $9::int + $10::int THEN 'cancelled'
                 ELSE 'completed' END AS status,
         ($11::text[])[1 + ((hashint4(g + 7)::bigint % 1000000) + 1000000) % cardinality($11::text[])] AS owner_service,
         jsonb_build_object('category', ($14::text[])[1 + g % cardinality($14::text[])], 'message', 'upstream 500') AS err
  FROM src
),
rows AS (
  SELECT uuidv7(at - now() - CASE WHEN status IN ('pending', 'running') THEN interval '0' ELSE interval '1 s' END) AS id, *,
         CASE WHEN status IN ('pending', 'running') THEN at ELSE at - interval '1 s' END AS created_at,
         status IN ('completed', 'failed', 'running') AS ran
  FROM picked
),
j AS (
  INSERT INTO jobs (id, owner_service, owner_ref, task_type, model_profile, status, priority, input, result, error,
                    error_at, attempts, request_hash, worker_id, lease_token, lease_seconds, lease_expires_at, run_after,
                    created_at, updated_at, started_at, finished_at)
  SELECT id, owner_service, 'seed/' || g, task_type, model_profile, status, g % $15::int, $12::jsonb,
         CASE WHEN status = 'completed' THEN $13::jsonb END,
         CASE WHEN status = 'failed' THEN err END,
         CASE WHEN status = 'failed' THEN at END,
         CASE WHEN ran THEN 1 ELSE 0 END, md5(id::text),
         CASE WHEN ran THEN 'seed-worker' END, CASE WHEN ran THEN gen_random_uuid() END, CASE WHEN ran THEN 300 END,
         CASE WHEN status = 'running' THEN now() + make_interval(secs => ${SEED_LEASE_SECONDS}) END,
         CASE WHEN status = 'pending' AND deferred THEN now() + interval '1 hour' ELSE created_at END, created_at, at,
         CASE WHEN ran THEN created_at END,
         CASE WHEN status NOT IN ('pending', 'running') THEN at END
  FROM rows
  RETURNING *
),
a AS (${insertAttemptRows('j')}),
b AS (${insertBossRows('j')}),
-- before the trigger's event of the last status (it fires after the statement): ids in order
e AS (
  INSERT INTO job_events (job_id, kind, data, created_at)
  SELECT j.id, 'status', jsonb_set(job_status_json(j::jobs), '{status}', to_jsonb(s.status)), j.created_at
  FROM j CROSS JOIN (VALUES (1, 'pending'), (2, 'running')) AS s (n, status)
  WHERE $18::boolean AND s.status <> j.status AND (s.status = 'pending' OR j.attempts > 0)
  ORDER BY j.id, s.n
)
SELECT count(*)::int AS n FROM b`;

function mixOf(status: SeedOptions['status']): Required<StatusMix> {
  if (typeof status !== 'string') return { pending: 0, running: 0, failed: 0, cancelled: 0, ...status };
  const one = { pending: 0, running: 0, failed: 0, cancelled: 0 };
  if (status !== 'completed') one[status] = 100;
  return one;
}

/** Inserts `count` jobs in chunks of CHUNK_ROWS (each its own statement); returns the number written. */
export async function seedJobs(db: Queryable, o: SeedOptions): Promise<number> {
  const mix = mixOf(o.status);
  const input = o.input ?? { prompt: 'Summarise the call.' };
  let written = 0;
  for (let first = 1; first <= o.count; first += CHUNK_ROWS) {
    const last = Math.min(o.count, first + CHUNK_ROWS - 1);
    const { rows } = await db.query(SEED, [
      o.queues.map((q) => q.task_type),
      o.queues.map((q) => q.model_profile),
      first,
      last,
      o.count,
      o.spacingMs ?? 0,
      o.ageSeconds ?? 0,
      mix.pending,
      mix.failed,
      mix.cancelled,
      o.owner_services ?? [o.owner_service ?? 'seed'],
      JSON.stringify(input),
      JSON.stringify(RESULT),
      o.error_categories ?? ERROR_CATEGORIES,
      o.priorities ?? 1,
      o.deferred ?? 0,
      mix.running,
      o.earlierEvents ?? false,
    ]);
    written += rows[0].n;
  }
  return written;
}
