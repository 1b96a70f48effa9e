// Delayed jobs becoming due. A pending job whose run_after is in the future is
// `delayed` (set by a trigger on every write, migration 005) and stays out of the
// claim index. The leader flips due ones every PROMOTE_INTERVAL_MS through the
// partial index jobs_delayed_idx; the update fires the jobs trigger's NOTIFY, so a
// long-poll waiting for the job wakes. pgboss.job rows are untouched: their
// start_after already says when pg-boss would run them.
import type { Queryable } from '../db/pool.ts';

export const PROMOTE_INTERVAL_MS = 250;
/** Jobs promoted per statement; a larger backlog is promoted over several statements of one tick. */
export const PROMOTE_BATCH = 5000;

/** Promotes due delayed jobs in batches; returns how many. */
export async function promoteDueJobs(db: Queryable, keepGoing: () => boolean = () => true): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.query({
      name: 'promote-due-jobs',
      text: `UPDATE jobs SET delayed = false
             WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND delayed AND run_after <= now()
                          ORDER BY run_after LIMIT $1::int FOR UPDATE SKIP LOCKED)`,
      values: [PROMOTE_BATCH],
    });
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < PROMOTE_BATCH || !keepGoing()) return total;
  }
}
