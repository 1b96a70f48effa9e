// Bulk actions from the dashboard: count first (a dry run), ask, then act on at
// most the counted number of jobs, and say what happened in a status line.
import { api } from './api.js';
import { fmtInt } from './dom.js';

/** The API's largest bulk action. */
const BULK_LIMIT_MAX = 100_000;

/**
 * @param {HTMLElement} outcome a role=status element
 * @param {{ action: 'retry' | 'cancel', filter: Record<string, unknown>, what: string }} req `what` names the jobs, e.g. "failed jobs with provider_unavailable"
 */
export async function bulkAction(outcome, { action, filter, what }) {
  const verb = action === 'retry' ? 'Retry' : 'Cancel';
  outcome.className = 'outcome';
  outcome.textContent = `Counting ${what}…`;
  try {
    const dry = await api('/api/v1/jobs/bulk', { method: 'POST', body: { action, filter, dry_run: true, limit: BULK_LIMIT_MAX } });
    if (!dry.matched) {
      outcome.textContent = `No ${what}.`;
      return;
    }
    const more = dry.matched >= BULK_LIMIT_MAX ? ' (the first 100,000)' : '';
    if (!window.confirm(`${verb} all ${fmtInt(dry.matched)} ${what}${more}?`)) {
      outcome.textContent = `${verb} not done.`;
      return;
    }
    outcome.textContent = `${action === 'retry' ? 'Retrying' : 'Cancelling'} ${fmtInt(dry.matched)} ${what}…`;
    const done = await api('/api/v1/jobs/bulk', { method: 'POST', body: { action, filter, limit: dry.matched } });
    outcome.className = 'outcome ok';
    outcome.textContent = `${action === 'retry' ? 'Retried' : 'Cancelled'} ${fmtInt(done.changed)} of ${fmtInt(done.matched)} ${what}${
      done.skipped ? `; ${fmtInt(done.skipped)} had changed meanwhile and were left alone` : ''
    }.`;
  } catch (err) {
    outcome.className = 'outcome error';
    outcome.textContent = `${verb} refused: ${err}`;
  }
}
