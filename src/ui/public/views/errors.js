// Errors: counts per category (last hour and all time) from /stats, a trend of
// new errors per minute kept from successive polls, a per-queue breakdown, and
// links to the failed jobs of each category, and a bulk retry of those jobs.
import { api, withQuery } from '../api.js';
import { bulkAction } from '../bulk.js';
import { fmtInt, h, replaceKeepingFocus } from '../dom.js';
import { RateHistory, sparkline } from '../sparkline.js';
import { errorPanel, heading } from './common.js';

const trend = new RateHistory(40);

/** @param {string} category @param {Record<string, string>} [extra] */
const failedJobsLink = (category, extra = {}) => withQuery('#/jobs', { status: 'failed', error_category: category, ...extra });

/** @param {HTMLElement} root */
export function mount(root) {
  const notice = h('div', { class: 'notice' });
  // Outside `body`, which each poll rebuilds, so the answer stays on screen.
  const outcome = h('p', { id: 'bulk-outcome', class: 'outcome', role: 'status' });
  const body = h('div');
  const retryAll = (/** @type {string} */ category) =>
    bulkAction(outcome, {
      action: 'retry',
      filter: { status: ['failed'], error_category: category },
      what: `failed jobs with ${category}`,
    });
  root.append(heading('Errors'), notice, outcome, body);
  return {
    async refresh() {
      let stats;
      try {
        stats = await api('/api/v1/stats');
      } catch (err) {
        replaceKeepingFocus(notice, errorPanel(err));
        throw err;
      }
      notice.replaceChildren();
      const at = Date.parse(stats.generated_at);
      for (const [category, total] of Object.entries(stats.errors.total)) trend.add(category, Number(total), at);
      replaceKeepingFocus(body, byCategory(stats.errors, retryAll), byQueue(stats.errors.by_queue));
    },
  };
}

/** @param {any} errors @param {(category: string) => void} retryAll */
function byCategory(errors, retryAll) {
  const categories = Object.keys(errors.total).sort(
    (a, b) => (errors.last_hour[b] ?? 0) - (errors.last_hour[a] ?? 0) || errors.total[b] - errors.total[a],
  );
  const title = h('h2', { id: 'categories-title' }, 'By category');
  if (!categories.length)
    return h('section', { 'aria-labelledby': 'categories-title' }, title, h('p', { class: 'muted' }, 'No errors recorded.'));
  const rows = categories.map((c) => {
    const rates = trend.get(c);
    const latest = rates.length ? `${rates[rates.length - 1].toFixed(1)}/min` : '—';
    return h(
      'tr',
      { data: { category: c } },
      h('th', { scope: 'row' }, h('code', null, c)),
      h('td', { class: 'num', data: { field: 'last_hour' } }, fmtInt(errors.last_hour[c] ?? 0)),
      h('td', { class: 'num', data: { field: 'total' } }, fmtInt(errors.total[c])),
      h('td', { class: 'spark-cell' }, sparkline(rates, `new ${c} errors per minute, latest ${latest}`), h('span', null, latest)),
      h('td', null, h('a', { href: failedJobsLink(c), data: { key: `failed:${c}` } }, `Failed jobs with ${c}`)),
      h(
        'td',
        null,
        h(
          'button',
          { type: 'button', class: 'secondary', data: { key: `retry-all:${c}` }, onclick: () => retryAll(c) },
          `Retry all failed jobs with ${c}…`,
        ),
      ),
    );
  });
  return h(
    'section',
    { 'aria-labelledby': 'categories-title' },
    title,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        null,
        h('caption', { class: 'visually-hidden' }, 'Errors per category'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['Category', 'Last hour', 'Total', 'Trend', 'Jobs', 'Recover'].map((c, i) =>
              h('th', { scope: 'col', class: i === 1 || i === 2 ? 'num' : undefined }, c),
            ),
          ),
        ),
        h('tbody', null, rows),
      ),
    ),
  );
}

/** @param {any[]} rows */
function byQueue(rows) {
  if (!rows.length) return null;
  const sorted = [...rows].sort((a, b) => b.last_hour - a.last_hour || b.total - a.total);
  return h(
    'section',
    { 'aria-labelledby': 'by-queue-title' },
    h('h2', { id: 'by-queue-title' }, 'By queue'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        null,
        h('caption', { class: 'visually-hidden' }, 'Errors per queue and category'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['Queue', 'Category', 'Last hour', 'Total'].map((c, i) => h('th', { scope: 'col', class: i > 1 ? 'num' : undefined }, c)),
          ),
        ),
        h(
          'tbody',
          null,
          sorted.map((r) =>
            h(
              'tr',
              null,
              h(
                'th',
                { scope: 'row' },
                h('a', { href: failedJobsLink(r.category, { task_type: r.task_type, model_profile: r.model_profile }) }, r.queue),
              ),
              h('td', null, h('code', null, r.category)),
              h('td', { class: 'num' }, fmtInt(r.last_hour)),
              h('td', { class: 'num' }, fmtInt(r.total)),
            ),
          ),
        ),
      ),
    ),
  );
}
