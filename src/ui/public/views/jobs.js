// Jobs: a filter form and one page of GET /api/v1/jobs. Filters and the cursor
// live in the hash (#/jobs?owner_ref=…&cursor=…) so a page can be bookmarked and
// the back button works; the stack of earlier cursors for "Newer" is in memory.
// Filtered to pending jobs, it offers to cancel every job the filters match.
import { api, withQuery } from '../api.js';
import { bulkAction } from '../bulk.js';
import { fmtInt, h, hashQuery, statusBadge, time } from '../dom.js';
import { errorPanel, heading } from './common.js';

export const PAGE_SIZE = 50;
const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'];
const TEXT_FILTERS = [
  ['owner_service', 'Owner service'],
  ['owner_ref', 'Owner ref'],
  ['task_type', 'Task type'],
  ['model_profile', 'Model profile'],
  ['error_category', 'Error category'],
];
const FILTER_KEYS = [...TEXT_FILTERS.map(([k]) => k), 'status'];

/** Cursors of the pages before the current one, for the filter set they belong to. */
const history = { filters: '', cursors: /** @type {string[]} */ ([]) };

/** @param {HTMLElement} root */
export function mount(root) {
  const query = hashQuery();
  const filters = Object.fromEntries(FILTER_KEYS.map((k) => [k, query.get(k) ?? '']));
  const key = JSON.stringify(filters);
  if (history.filters !== key) Object.assign(history, { filters: key, cursors: [] });
  const cursor = query.get('cursor') ?? '';

  const results = h('section', { 'aria-labelledby': 'results-title', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  root.append(heading('Jobs'), filterForm(filters));
  if (filters.status === 'pending') root.append(bulkCancel(filters));
  root.append(results);
  load(results, filters, cursor);
  return {};
}

/** @param {Record<string, string>} filters */
function filterForm(filters) {
  const field = (/** @type {string} */ name, /** @type {string} */ label) =>
    h(
      'div',
      { class: 'field' },
      h('label', { for: `f-${name}` }, label),
      h('input', { id: `f-${name}`, name, value: filters[name], autocomplete: 'off', spellcheck: 'false' }),
    );
  const status = h(
    'div',
    { class: 'field' },
    h('label', { for: 'f-status' }, 'Status'),
    h(
      'select',
      { id: 'f-status', name: 'status' },
      h('option', { value: '' }, 'any'),
      STATUSES.map((s) => h('option', { value: s, selected: s === filters.status }, s)),
    ),
  );
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter jobs', onsubmit: onSubmit },
    TEXT_FILTERS.map(([name, label]) => field(name, label)),
    status,
    h(
      'div',
      { class: 'field actions' },
      h('button', { type: 'submit' }, 'Filter'),
      h('a', { href: '#/jobs', class: 'button secondary' }, 'Clear'),
    ),
  );
  return form;
}

/** "Cancel all matching pending jobs": the list's filters as a bulk filter. @param {Record<string, string>} filters */
function bulkCancel(filters) {
  const outcome = h('p', { id: 'bulk-outcome', class: 'outcome', role: 'status' });
  /** @type {Record<string, unknown>} */
  const filter = { status: ['pending'] };
  for (const [k, v] of Object.entries(filters)) if (k !== 'status' && v !== '') filter[k] = v;
  const cancelAll = () => bulkAction(outcome, { action: 'cancel', filter, what: 'pending jobs matching these filters' });
  return h(
    'div',
    { class: 'bulk-actions' },
    h(
      'button',
      { type: 'button', class: 'secondary', data: { key: 'cancel-all' }, onclick: cancelAll },
      'Cancel all matching pending jobs…',
    ),
    outcome,
  );
}

/** @param {SubmitEvent} e */
function onSubmit(e) {
  e.preventDefault();
  const data = new FormData(/** @type {HTMLFormElement} */ (e.target));
  const params = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    const v = String(data.get(k) ?? '').trim();
    if (v) params.set(k, v);
  }
  const next = `#/jobs${params.size ? `?${params}` : ''}`;
  // Same filters again: the hash does not change, so reload the page ourselves.
  if (location.hash === next) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = next;
}

/** @param {HTMLElement} results @param {Record<string, string>} filters @param {string} cursor */
async function load(results, filters, cursor) {
  let page;
  try {
    page = await api(withQuery('/api/v1/jobs', { ...filters, cursor, limit: PAGE_SIZE }));
  } catch (err) {
    results.replaceChildren(errorPanel(err));
    results.setAttribute('aria-busy', 'false');
    return;
  }
  const title = h(
    'h2',
    { id: 'results-title' },
    `${fmtInt(page.jobs.length)} job${page.jobs.length === 1 ? '' : 's'}${page.next_cursor || cursor ? ' on this page' : ''}`,
  );
  results.replaceChildren(
    title,
    page.jobs.length ? jobsTable(page.jobs) : h('p', { class: 'muted' }, 'No jobs match these filters.'),
    pager(filters, cursor, page.next_cursor),
  );
  results.setAttribute('aria-busy', 'false');
}

/** @param {any[]} jobs */
function jobsTable(jobs) {
  const cols = ['Job', 'Owner service', 'Owner ref', 'Queue', 'Status', 'Attempts', 'Error', 'Created', 'Updated'];
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'jobs' },
      h('caption', { class: 'visually-hidden' }, 'Jobs, newest first'),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          cols.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        null,
        jobs.map((j) =>
          h(
            'tr',
            { data: { job: j.id } },
            h('td', null, h('a', { href: `#/jobs/${j.id}`, class: 'mono', 'aria-label': `Job ${j.id}` }, j.id)),
            h('td', { data: { field: 'owner_service' } }, j.owner_service),
            h('td', { data: { field: 'owner_ref' } }, j.owner_ref),
            h('td', null, `${j.task_type} / ${j.model_profile}`),
            h('td', null, statusBadge(j.status)),
            h('td', { class: 'num' }, `${j.attempts}/${j.max_attempts}`),
            h('td', null, j.error?.category ?? ''),
            h('td', null, time(j.created_at)),
            h('td', null, time(j.updated_at)),
          ),
        ),
      ),
    ),
  );
}

/** @param {Record<string, string>} filters @param {string} cursor @param {string | null} next */
function pager(filters, cursor, next) {
  const go = (/** @type {string} */ c) => {
    location.hash = withQuery('#/jobs', { ...filters, cursor: c });
  };
  // After a reload on a later page the stack is empty: "Newer" then goes to the first page.
  const newer = () => go(history.cursors.pop() ?? '');
  const older = () => {
    if (!next) return;
    history.cursors.push(cursor);
    go(next);
  };
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', class: 'secondary', disabled: !cursor, onclick: newer }, '← Newer'),
    h('button', { type: 'button', class: 'secondary', disabled: !next, onclick: older }, 'Older →'),
  );
}
