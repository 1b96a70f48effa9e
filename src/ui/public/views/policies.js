// Policies: shared GPU capacity (src/policies/README.md). Lists every policy, and
// creates, edits (a PUT of the same scope replaces it) and deletes them; a value the
// API refuses is shown with its answer (status, code, the field named).
import { ApiError, api } from '../api.js';
import { h, replaceKeepingFocus } from '../dom.js';
import { errorPanel, heading } from './common.js';

const SCOPE_FIELDS = /** @type {const} */ (['owner_service', 'task_type', 'model_profile']);

/** @param {HTMLElement} root */
export function mount(root) {
  const notice = h('div', { class: 'notice' });
  const list = h('section', { 'aria-labelledby': 'policies-title' });
  const outcome = h('p', { class: 'outcome', role: 'status', data: { role: 'policy-outcome' } });
  const form = policyForm(async (body) => {
    outcome.textContent = 'Saving…';
    try {
      const saved = await api('/api/v1/policies', { method: 'PUT', body });
      outcome.textContent = `Saved policy ${saved.id}.`;
      await refresh();
    } catch (err) {
      outcome.textContent = `Refused: ${err instanceof ApiError ? describe(err) : String(err)}`;
    }
  });
  root.append(heading('Policies'), notice, list, h('h2', null, 'Create or replace'), form.el, outcome);

  async function refresh() {
    const doc = await api('/api/v1/policies').catch((e) => e);
    if (doc instanceof Error) {
      replaceKeepingFocus(notice, errorPanel(doc));
      throw doc;
    }
    notice.replaceChildren();
    replaceKeepingFocus(
      list,
      renderList(doc.policies, form.fill, async (p) => {
        if (!window.confirm(`Delete policy ${p.id} (${scopeText(p.scope)})? Jobs it holds become claimable.`)) return;
        try {
          await api(`/api/v1/policies/${p.id}`, { method: 'DELETE' });
          outcome.textContent = `Deleted policy ${p.id}.`;
        } catch (err) {
          outcome.textContent = `Refused: ${err instanceof ApiError ? describe(err) : String(err)}`;
        }
        await refresh();
      }),
    );
  }
  return { refresh };
}

/** @param {ApiError} err */
function describe(err) {
  return String(err);
}

/** @param {Record<string, string>} scope */
export function scopeText(scope) {
  return SCOPE_FIELDS.filter((f) => scope[f])
    .map((f) => `${f}=${scope[f]}`)
    .join(', ');
}

/** @param {any[]} policies @param {(p: any) => void} edit @param {(p: any) => Promise<void>} remove */
function renderList(policies, edit, remove) {
  const title = h('h2', { id: 'policies-title' }, 'Policies');
  if (!policies.length) return [title, h('p', { class: 'muted' }, 'No policies: every owner has weight 1, nothing is capped or paused.')];
  const rows = policies.map((p) =>
    h(
      'tr',
      { data: { policy: p.id } },
      h('th', { scope: 'row' }, String(p.id)),
      h('td', null, scopeText(p.scope)),
      h('td', { class: 'num' }, String(p.weight)),
      h('td', { class: 'num' }, p.max_running === null ? 'no cap' : String(p.max_running)),
      h('td', null, p.paused ? 'paused' : 'active'),
      h(
        'td',
        null,
        h('button', { type: 'button', data: { key: `edit:${p.id}` }, onclick: () => edit(p) }, 'Edit'),
        ' ',
        h('button', { type: 'button', data: { key: `delete:${p.id}` }, onclick: () => remove(p) }, 'Delete'),
      ),
    ),
  );
  const cols = ['Id', 'Scope', 'Weight', 'Max running', 'State', 'Actions'];
  return [
    title,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'policies' },
        h('caption', { class: 'visually-hidden' }, 'Scheduling policies'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            cols.map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        h('tbody', null, rows),
      ),
    ),
  ];
}

/** The create/replace form; values are sent as typed so the API judges them. @param {(body: any) => Promise<void>} submit */
function policyForm(submit) {
  /** @type {Record<string, HTMLInputElement>} */
  const inputs = {};
  const field = (/** @type {string} */ name, /** @type {string} */ label, /** @type {string} */ type = 'text') => {
    const input = /** @type {HTMLInputElement} */ (h('input', { id: `policy-${name}`, name, type }));
    inputs[name] = input;
    return h('div', { class: 'field' }, h('label', { for: `policy-${name}` }, label), input);
  };
  const el = h(
    'form',
    { class: 'filters', data: { role: 'policy-form' } },
    field('owner_service', 'Owner service'),
    field('task_type', 'Task type'),
    field('model_profile', 'Model profile'),
    field('weight', 'Weight (1-1000)', 'number'),
    field('max_running', 'Max running (empty: no cap)', 'number'),
    field('paused', 'Paused', 'checkbox'),
    h('button', { type: 'submit' }, 'Save'),
  );
  el.addEventListener('submit', (e) => {
    e.preventDefault();
    /** @type {Record<string, string>} */
    const scope = {};
    for (const f of SCOPE_FIELDS) if (inputs[f].value.trim()) scope[f] = inputs[f].value.trim();
    /** @type {Record<string, unknown>} */
    const body = { scope, paused: inputs.paused.checked };
    if (inputs.weight.value !== '') body.weight = Number(inputs.weight.value);
    body.max_running = inputs.max_running.value === '' ? null : Number(inputs.max_running.value);
    void submit(body);
  });
  /** @param {any} p */
  const fill = (p) => {
    for (const f of SCOPE_FIELDS) inputs[f].value = p.scope[f] ?? '';
    inputs.weight.value = p.scope.owner_service && !p.scope.task_type ? String(p.weight) : '';
    inputs.max_running.value = p.max_running === null ? '' : String(p.max_running);
    inputs.paused.checked = p.paused;
    inputs.owner_service.focus();
  };
  return { el, fill };
}
