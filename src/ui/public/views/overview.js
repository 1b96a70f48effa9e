// Overview: totals, provider badges and one row per queue, refreshed by the
// app's poller. Throughput is not in /stats: it is the change of completed +
// failed between two polls, kept here so it survives navigating away and back.
import { ApiError, api } from '../api.js';
import { fmtAge, fmtInt, h, replaceKeepingFocus } from '../dom.js';
import { RateHistory, sparkline } from '../sparkline.js';
import { errorPanel, heading } from './common.js';

/** Samples kept per queue: about two minutes at the default poll interval. */
const SPARK_POINTS = 40;
const throughput = new RateHistory(SPARK_POINTS);

/** @param {HTMLElement} root */
export function mount(root) {
  const notice = h('div', { class: 'notice' });
  const totals = h('section', { 'aria-labelledby': 'totals-title' });
  const providers = h('section', { 'aria-labelledby': 'providers-title' });
  const queues = h('section', { 'aria-labelledby': 'queues-title' });
  root.append(heading('Overview'), notice, totals, providers, queues);
  return {
    async refresh() {
      const [stats, prov] = await Promise.all([api('/api/v1/stats').catch((e) => e), api('/api/v1/providers/status').catch((e) => e)]);
      if (stats instanceof Error) {
        replaceKeepingFocus(notice, errorPanel(stats));
        throw stats;
      }
      notice.replaceChildren();
      const at = Date.parse(stats.generated_at);
      for (const q of stats.queues) throughput.add(q.queue, q.completed + q.failed, at);
      replaceKeepingFocus(totals, renderTotals(stats));
      replaceKeepingFocus(providers, renderProviders(prov));
      replaceKeepingFocus(queues, renderQueues(stats.queues));
    },
  };
}

/** @param {any} stats */
function renderTotals(stats) {
  const t = stats.totals;
  const oldest = Math.max(...stats.queues.map((/** @type {any} */ q) => q.oldest_ready_age_seconds ?? -1), -1);
  /** @type {[string, string, string][]} */
  const items = [
    ['ready', 'Ready', fmtInt(t.ready)],
    ['delayed', 'Delayed', fmtInt(t.delayed)],
    ['running', 'Running', fmtInt(t.running)],
    ['completed_last_hour', 'Completed (1 h)', fmtInt(t.completed_last_hour)],
    ['failed_last_hour', 'Failed (1 h)', fmtInt(t.failed_last_hour)],
    ['oldest_ready', 'Oldest ready', oldest < 0 ? '—' : fmtAge(oldest)],
  ];
  return [
    h('h2', { id: 'totals-title', class: 'visually-hidden' }, 'Totals'),
    h(
      'dl',
      { class: 'totals' },
      items.map(([field, label, value]) =>
        h('div', { class: 'total', data: { total: field } }, h('dt', null, label), h('dd', null, value)),
      ),
    ),
  ];
}

/** @param {any} prov the provider status document, or the ApiError */
function renderProviders(prov) {
  const title = h('h2', { id: 'providers-title' }, 'AI providers');
  if (prov instanceof Error) {
    /** @type {any} */
    const err = prov;
    const why = err.status === 404 ? 'not available on this service version' : err.needsToken ? 'needs an admin token' : String(err);
    return [title, h('p', { class: 'badge provider-unknown', data: { provider: 'unavailable' } }, `Provider status unavailable: ${why}`)];
  }
  const items = prov.providers.map((/** @type {any} */ p) => {
    const words = { up: 'up', down: 'down', not_configured: 'not configured' };
    const latency = p.status !== 'not_configured' && p.latency_ms !== null && p.latency_ms !== undefined ? ` · ${p.latency_ms} ms` : '';
    const model = p.configured && p.model ? ` · ${p.model}${p.model_available === false ? ' (not served)' : ''}` : '';
    const tip = [p.endpoint, p.error].filter(Boolean).join(' — ');
    return h(
      'li',
      { class: `badge provider-${p.status}`, data: { provider: p.name }, title: tip || undefined },
      h('strong', null, p.name),
      `: ${words[/** @type {'up'} */ (p.status)] ?? p.status}${latency}${model}`,
      p.error ? h('span', { class: 'provider-error' }, ` (${p.error})`) : null,
    );
  });
  return [title, h('ul', { class: 'badges' }, items)];
}

/** @param {any[]} queues */
function renderQueues(queues) {
  const title = h('h2', { id: 'queues-title' }, 'Queues');
  if (!queues.length)
    return [title, h('p', { class: 'muted' }, 'No queues yet: a queue appears with the first job of its task_type/model_profile.')];
  const cols = ['Queue', 'Ready', 'Delayed', 'Running', 'Completed (1 h)', 'Failed (1 h)', 'Oldest ready', 'Throughput', 'Claims'];
  const rows = queues.map((q) => {
    const rates = throughput.get(q.queue);
    const now = rates.length ? `${rates[rates.length - 1].toFixed(1)}/min` : '—';
    const link = `#/jobs?task_type=${encodeURIComponent(q.task_type)}&model_profile=${encodeURIComponent(q.model_profile)}`;
    const num = (/** @type {string} */ field) => h('td', { class: 'num', data: { field } }, fmtInt(q[field]));
    return h(
      'tr',
      { data: { queue: q.queue } },
      h(
        'th',
        { scope: 'row' },
        h('a', { href: link, data: { key: `queue:${q.queue}` } }, q.task_type, h('span', { class: 'muted' }, ' / '), q.model_profile),
      ),
      num('ready'),
      num('delayed'),
      num('running'),
      num('completed_last_hour'),
      num('failed_last_hour'),
      h('td', { class: 'num', data: { field: 'oldest_ready_age_seconds' } }, fmtAge(q.oldest_ready_age_seconds)),
      h(
        'td',
        { class: 'spark-cell', data: { field: 'throughput' } },
        sparkline(rates, `${q.queue} jobs finished per minute, latest ${now}`),
        h('span', null, now),
      ),
      h('td', { data: { field: 'paused' } }, pauseControl(q)),
    );
  });
  return [
    title,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'queues' },
        h('caption', { class: 'visually-hidden' }, 'Jobs per queue (task_type / model_profile)'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            cols.map((c, i) => h('th', { scope: 'col', class: i > 0 && i < 7 ? 'num' : undefined }, c)),
          ),
        ),
        h('tbody', null, rows),
      ),
    ),
  ];
}

/**
 * Pause or resume a queue after confirmation. Pause writes a policy on the queue's scope
 * (task_type + model_profile); resume lifts every pause without owner_service covering the
 * queue: a policy that only pauses is deleted, one that also caps keeps its cap.
 * @param {any} q
 */
function pauseControl(q) {
  const outcome = h('span', { class: 'outcome', role: 'status' });
  const act = async () => {
    try {
      if (!q.paused) {
        if (!window.confirm(`Pause ${q.queue}? Its jobs stay pending and are not claimed; running ones finish.`)) return;
        await api('/api/v1/policies', {
          method: 'PUT',
          body: { scope: { task_type: q.task_type, model_profile: q.model_profile }, paused: true },
        });
        outcome.textContent = 'Paused.';
        return;
      }
      const { policies } = await api('/api/v1/policies');
      const pauses = policies.filter(
        (/** @type {any} */ p) =>
          p.paused &&
          !p.scope.owner_service &&
          (!p.scope.task_type || p.scope.task_type === q.task_type) &&
          (!p.scope.model_profile || p.scope.model_profile === q.model_profile),
      );
      const names = pauses.map((/** @type {any} */ p) => `policy ${p.id}`).join(', ');
      if (!window.confirm(`Resume ${q.queue}? This lifts ${names}, which may cover other queues too.`)) return;
      for (const p of pauses) {
        if (p.max_running === null) await api(`/api/v1/policies/${p.id}`, { method: 'DELETE' });
        else await api('/api/v1/policies', { method: 'PUT', body: { scope: p.scope, max_running: p.max_running, paused: false } });
      }
      outcome.textContent = 'Resumed.';
    } catch (err) {
      outcome.textContent = `Refused: ${err instanceof ApiError ? String(err) : String(err)}`;
    }
  };
  const label = q.paused ? 'Resume' : 'Pause';
  return [
    q.paused ? h('span', { class: 'badge' }, 'paused') : null,
    ' ',
    h('button', { type: 'button', data: { key: `pause:${q.queue}` }, 'aria-label': `${label} ${q.queue}`, onclick: act }, label),
    outcome,
  ];
}
