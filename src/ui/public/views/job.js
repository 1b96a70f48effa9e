// One job: summary, live progress, timeline (created → attempts → finish),
// input/result as collapsible JSON, and Retry / Cancel. Polled like the overview
// so an operator watching a running job sees it finish; open <details> stay open
// across polls. Progress is also followed live through the job's event stream
// while the page is shown.
import { api, followEvents } from '../api.js';
import { h, replaceKeepingFocus, statusBadge, time } from '../dom.js';
import { errorPanel, heading } from './common.js';

const RETRYABLE = new Set(['failed', 'running']);
const CANCELLABLE = new Set(['pending', 'running']);

/** @param {HTMLElement} root @param {string[]} params */
export function mount(root, [id]) {
  const outcome = h('p', { class: 'outcome', role: 'status', id: 'action-outcome' });
  const body = h('div');
  const live = h('section', { 'aria-labelledby': 'progress-title', 'aria-live': 'polite', data: { section: 'progress' } });
  /** Which collapsible sections the operator opened, so a refresh keeps them open. */
  const open = new Set(['result', 'error']);
  root.append(
    heading('Job ', h('code', { class: 'mono' }, id)),
    h('p', null, h('a', { href: '#/jobs' }, '← All jobs')),
    outcome,
    live,
    body,
  );
  /** The newest progress shown, so a poll's older copy does not replace a streamed one. */
  let shown = '';
  const showProgress = (/** @type {any} */ p) => {
    if (!p || (shown && p.updated_at < shown)) return;
    shown = p.updated_at;
    live.replaceChildren(...progressView(p).filter((n) => n !== null));
  };
  followLive(id, root, showProgress, () => refresh().catch(() => {}));

  const refresh = async () => {
    try {
      const job = await api(`/api/v1/jobs/${id}`);
      showProgress(job.progress);
      replaceKeepingFocus(body, actions(job, act), summary(job), timeline(job), payloads(job, open));
    } catch (err) {
      replaceKeepingFocus(body, errorPanel(err));
      throw err;
    }
  };

  /** @param {'retry' | 'cancel'} action @param {any} job */
  async function act(action, job) {
    if (
      job.status === 'running' &&
      !window.confirm(
        `This job is running on ${job.worker_id}. ${action === 'retry' ? 'Retry' : 'Cancel'} it and revoke the worker's lease?`,
      )
    )
      return;
    if (action === 'cancel' && job.status === 'pending' && !window.confirm('Cancel this job? It will not run.')) return;
    outcome.className = 'outcome';
    outcome.textContent = action === 'retry' ? 'Retrying…' : 'Cancelling…';
    try {
      const after = await api(`/api/v1/jobs/${id}/${action}`, { method: 'POST', body: action === 'retry' ? {} : undefined });
      outcome.className = 'outcome ok';
      outcome.textContent = `${action === 'retry' ? 'Retried' : 'Cancelled'}: the job is now ${after.status}.`;
    } catch (err) {
      outcome.className = 'outcome error';
      outcome.textContent = `${action === 'retry' ? 'Retry' : 'Cancel'} refused: ${err}`;
    }
    await refresh().catch(() => {});
  }
  return { refresh };
}

/**
 * Follows the job's event stream while `root` is on the page: progress is shown as it
 * arrives, a status change refreshes the page. The stream ends with the job.
 * @param {string} id @param {HTMLElement} root @param {(p: any) => void} onProgress @param {() => void} onStatus
 */
function followLive(id, root, onProgress, onStatus) {
  const abort = new AbortController();
  const onEvent = (/** @type {string} */ event, /** @type {any} */ data) => {
    if (!root.isConnected) return abort.abort();
    if (event === 'progress') onProgress(data);
    else onStatus();
  };
  followEvents(`/api/v1/jobs/${encodeURIComponent(id)}/events`, onEvent, abort.signal).catch(() => {});
  // Leaving the page ends the stream (views have no unmount hook).
  const check = window.setInterval(() => {
    if (!root.isConnected) {
      abort.abort();
      window.clearInterval(check);
    }
  }, 1000);
}

/** @param {any} p the job's progress @returns {(HTMLElement | null)[]} */
function progressView(p) {
  const percent = typeof p.fraction === 'number' ? Math.round(p.fraction * 100) : null;
  return [
    h('h2', { id: 'progress-title' }, 'Progress'),
    percent === null ? null : h('progress', { max: '100', value: String(percent), 'aria-label': `${percent}%` }),
    h(
      'p',
      { data: { key: 'progress-text' } },
      `${percent === null ? '' : `${percent}% `}${p.message ?? ''}`,
      ' ',
      h('span', { class: 'muted small' }, time(p.updated_at)),
    ),
    p.output ? h('pre', { class: 'json', tabindex: '0', 'aria-label': 'Partial output JSON' }, JSON.stringify(p.output, null, 2)) : null,
  ];
}

/** @param {any} job @param {(action: 'retry' | 'cancel', job: any) => void} act */
function actions(job, act) {
  const canRetry = RETRYABLE.has(job.status);
  const canCancel = CANCELLABLE.has(job.status);
  return h(
    'div',
    { class: 'job-actions' },
    h('p', { class: 'job-status' }, 'Status: ', statusBadge(job.status)),
    h(
      'button',
      { type: 'button', data: { key: 'retry' }, disabled: !canRetry, 'aria-describedby': 'actions-hint', onclick: () => act('retry', job) },
      'Retry',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        data: { key: 'cancel' },
        disabled: !canCancel,
        'aria-describedby': 'actions-hint',
        onclick: () => act('cancel', job),
      },
      'Cancel',
    ),
    h('p', { id: 'actions-hint', class: 'muted small' }, 'Retry: failed or running jobs. Cancel: pending or running jobs.'),
  );
}

/** @param {any} job */
function summary(job) {
  /** @type {[string, any][]} */
  const rows = [
    ['Owner service', job.owner_service],
    ['Owner ref', job.owner_ref],
    [
      'Queue',
      h(
        'a',
        { href: `#/jobs?task_type=${encodeURIComponent(job.task_type)}&model_profile=${encodeURIComponent(job.model_profile)}` },
        `${job.task_type} / ${job.model_profile}`,
      ),
    ],
    ['Priority', job.priority],
    ['Attempts', `${job.attempts} of ${job.max_attempts}`],
    ['Idempotency key', job.idempotency_key ?? '—'],
    ['Worker', job.worker_id ?? '—'],
    ['Lease expires', time(job.lease_expires_at)],
    ['Run after', time(job.run_after)],
    ['Updated', time(job.updated_at)],
  ];
  if (job.callback_url)
    rows.push(['Callback', `${job.callback_url}${job.callback ? ` — ${job.callback.status}, ${job.callback.attempts} attempt(s)` : ''}`]);
  return h(
    'section',
    { 'aria-labelledby': 'summary-title' },
    h('h2', { id: 'summary-title' }, 'Summary'),
    h(
      'dl',
      { class: 'summary' },
      rows.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))),
    ),
  );
}

/** @param {any} job */
function timeline(job) {
  const items = [h('li', { data: { event: 'created' } }, h('strong', null, 'Created'), ' ', time(job.created_at))];
  if (Date.parse(job.run_after) - Date.parse(job.created_at) > 1000 && job.attempts === 0)
    items.push(h('li', { data: { event: 'delayed' } }, h('strong', null, 'Not before'), ' ', time(job.run_after)));
  for (const a of job.attempts_history ?? []) items.push(attemptItem(a));
  if (job.finished_at) {
    items.push(
      h(
        'li',
        { data: { event: 'finished' } },
        h('strong', null, 'Finished'),
        ' ',
        time(job.finished_at),
        ' ',
        statusBadge(job.status),
        job.error ? h('span', { class: 'error-text' }, ` ${job.error.category}: ${job.error.message}`) : null,
      ),
    );
  } else {
    const now =
      job.status === 'running'
        ? `running on ${job.worker_id}`
        : `${job.status}, waiting for a worker${Date.parse(job.run_after) > Date.now() ? ' (not before the run-after time)' : ''}`;
    items.push(h('li', { data: { event: 'now' } }, h('strong', null, 'Now'), ` ${now}`));
  }
  return h(
    'section',
    { 'aria-labelledby': 'timeline-title' },
    h('h2', { id: 'timeline-title' }, 'Timeline'),
    h('ol', { class: 'timeline' }, items),
  );
}

/** @param {any} a one entry of attempts_history */
function attemptItem(a) {
  return h(
    'li',
    { data: { event: 'attempt', attempt: a.attempt } },
    h('strong', null, `Attempt ${a.attempt}`),
    ' claimed by ',
    h('code', null, a.worker_id),
    ' at ',
    time(a.claimed_at),
    h(
      'ul',
      { class: 'attempt-details' },
      h('li', null, 'Lease until ', time(a.lease_expires_at)),
      h('li', null, 'Finished ', time(a.finished_at)),
      h('li', null, 'Outcome: ', a.outcome ? h('span', { class: `badge outcome-${a.outcome}` }, a.outcome) : 'in progress'),
      a.error ? h('li', { class: 'error-text' }, `Error: ${a.error.category}: ${a.error.message}`) : null,
    ),
  );
}

/** @param {any} job @param {Set<string>} open */
function payloads(job, open) {
  const section = (/** @type {string} */ key, /** @type {string} */ label, /** @type {unknown} */ value) => {
    const text = JSON.stringify(value, null, 2);
    const details = h(
      'details',
      { open: open.has(key), data: { section: key } },
      h('summary', { data: { key: `summary:${key}` } }, `${label} (${new TextEncoder().encode(text).length} bytes)`),
      h('pre', { class: 'json', tabindex: '0', 'aria-label': `${label} JSON` }, text),
    );
    details.addEventListener('toggle', () => (/** @type {HTMLDetailsElement} */ (details).open ? open.add(key) : open.delete(key)));
    return details;
  };
  return h(
    'section',
    { 'aria-labelledby': 'payloads-title' },
    h('h2', { id: 'payloads-title' }, 'Input and result'),
    section('input', 'Input', job.input),
    job.result ? section('result', 'Result', job.result) : h('p', { class: 'muted' }, job.finished_at ? 'No result.' : 'No result yet.'),
    job.error ? section('error', 'Error', job.error) : null,
  );
}
